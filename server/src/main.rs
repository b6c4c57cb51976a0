//! `softphone-server` binary: `serve`, `demo`, `user add|disable|enable`, `backup` and
//! `restore`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use softphone_proto::Role;
use softphone_server::Config;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "softphone-server",
    version,
    about = "Agent Softphone backend",
    after_help = "Settings come from defaults, then --config FILE (TOML), then SOFTPHONE_* \
                  environment variables, then flags. See docs/server.md."
)]
struct Cli {
    /// TOML settings file.
    #[arg(long, env = "SOFTPHONE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Folder for the database and recordings (overrides the file and SOFTPHONE_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Address to listen on (port 0 = any free port; printed on start).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Load the demo organisation first (see `demo`).
        #[arg(long)]
        demo: bool,
    },
    /// Load demo data: an admin, two agents and 20 leads; the accounts and their
    /// password are printed. Does nothing when they exist already.
    Demo,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Copy the database to FILE while the server runs (SQLite online backup); prints
    /// its size and schema version. Recordings are not inside: copy `DATA_DIR/objects`
    /// (or the bucket) after it (docs/admin.md).
    Backup {
        /// The backup file to write; must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the database with a backup. The server must be stopped; the current
    /// database is kept beside it as `softphone.db.before-restore-UNIXTIME`.
    Restore {
        /// A file written by `backup`.
        #[arg(long)]
        from: PathBuf,
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
    /// Disable an account: it cannot sign in, its sessions are revoked, and a running
    /// server closes its signaling connections within `signal_ping_ms`.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Re-enable a disabled account.
    Enable {
        #[arg(long)]
        email: String,
    },
}

/// Logs to stderr in the configured format, filtered by `SOFTPHONE_LOG` (default
/// `info`).
fn init_logs(format: softphone_server::config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SOFTPHONE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        softphone_server::config::LogFormat::Text => logs.init(),
        softphone_server::config::LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn seed_demo(cfg: &Config) -> Result<()> {
    let conn = softphone_server::db::open(&cfg.data_dir)?;
    let seeded = softphone_server::demo::seed(&conn)?;
    if seeded.created {
        println!("demo data loaded: {} leads", seeded.leads);
    } else {
        println!("demo data already present");
    }
    for (email, _, role) in softphone_server::demo::ACCOUNTS {
        println!(
            "  {} {email} / {}",
            role.as_str(),
            softphone_server::demo::PASSWORD
        );
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(d) = cli.data_dir {
        cfg.data_dir = d;
    }
    init_logs(cfg.log_format);
    match cli.command {
        Command::Serve { listen, demo } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if demo {
                seed_demo(&cfg)?;
            }
            let running = softphone_server::start(&cfg).await?;
            println!("listening on {}", running.url());
            wait_for_stop(&running).await?;
            running.stop().await?;
            Ok(())
        }
        Command::Demo => seed_demo(&cfg),
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
            let conn = softphone_server::db::open(&cfg.data_dir)?;
            let role = Role::parse(&role).expect("clap checked the value");
            let id = softphone_server::add_user(&conn, &org, &email, &name, role, password)?;
            println!("{id}");
            Ok(())
        }
        Command::User {
            command: UserCommand::Disable { email },
        } => {
            let conn = softphone_server::db::open(&cfg.data_dir)?;
            let id = softphone_server::set_user_disabled(&conn, &email, true)?;
            println!("{id} disabled");
            Ok(())
        }
        Command::Backup { out } => {
            let info = softphone_server::db::backup::backup(&cfg.data_dir, &out)?;
            println!(
                "backed up {} ({} bytes, schema version {})",
                out.display(),
                info.bytes,
                info.schema_version
            );
            Ok(())
        }
        Command::Restore { from } => {
            let (info, aside) = softphone_server::db::backup::restore(&cfg.data_dir, &from)?;
            if let Some(a) = aside {
                println!("the previous database is kept at {}", a.display());
            }
            println!(
                "restored {} ({} bytes, schema version {})",
                from.display(),
                info.bytes,
                info.schema_version
            );
            Ok(())
        }
        Command::User {
            command: UserCommand::Enable { email },
        } => {
            let conn = softphone_server::db::open(&cfg.data_dir)?;
            let id = softphone_server::set_user_disabled(&conn, &email, false)?;
            println!("{id} enabled");
            Ok(())
        }
    }
}

/// Returns on Ctrl-C or SIGTERM (service managers stop with SIGTERM). On SIGHUP
/// (`systemctl reload`) it re-reads the TLS certificate and key and goes on waiting; a
/// bad file is logged and the certificate served before stays.
async fn wait_for_stop(running: &softphone_server::Running) -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        loop {
            tokio::select! {
                r = tokio::signal::ctrl_c() => return Ok(r?),
                _ = term.recv() => return Ok(()),
                _ = hup.recv() => {
                    if let Err(e) = running.reload_tls() {
                        tracing::error!(error = format!("{e:#}"), "TLS reload failed; serving the previous certificate");
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = running;
        tokio::signal::ctrl_c().await?;
        Ok(())
    }
}
