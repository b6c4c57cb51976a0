//! `softphone-server` binary: `serve` and `user add`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use softphone_proto::Role;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "softphone-server", version, about = "Agent Softphone backend")]
struct Cli {
    /// Folder for the database and recordings.
    #[arg(
        long,
        env = "SOFTPHONE_DATA_DIR",
        default_value = "./softphone-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Address to listen on (port 0 = any free port; printed on start).
        #[arg(long, env = "SOFTPHONE_LISTEN", default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from stdin (never from arguments).
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin or agent.
        #[arg(long, default_value = "agent", value_parser = ["admin", "agent"])]
        role: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOFTPHONE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { listen } => {
            let mut cfg = softphone_server::Config::new(cli.data_dir);
            cfg.listen = listen;
            let running = softphone_server::start(&cfg).await?;
            println!("listening on {}", running.url());
            tokio::signal::ctrl_c().await?;
            running.stop().await?;
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    org,
                    email,
                    name,
                    role,
                },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let conn = softphone_server::db::open(&cli.data_dir)?;
            let role = Role::parse(&role).expect("clap checked the value");
            let id = softphone_server::add_user(&conn, &org, &email, &name, role, password)?;
            println!("{id}");
            Ok(())
        }
    }
}
