//! Update signing keys and signatures from the Tauri CLI itself (`tauri signer`,
//! `node_modules/.bin/tauri`), the tool the release workflow signs with, so tests check
//! the server and the app against real release-pipeline output.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Tauri CLI of the workspace's `node_modules` (`npm ci` installs it).
pub fn tauri_cli() -> PathBuf {
    // Looked up from the running test's package at run time: this crate's own
    // CARGO_MANIFEST_DIR is fixed when it is compiled, and a target folder shared by two
    // checkouts (CI's clone and a working copy) would point into the other one.
    let here = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    here.ancestors()
        .map(|d| d.join("node_modules/.bin/tauri"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/.bin/tauri")
        })
}

/// A minisign key pair made by `tauri signer generate` (no password) in a folder.
pub struct Signer {
    key: PathBuf,
    /// The public key as the app and the server take it (base64 of the `.pub` file).
    pub pubkey: String,
}

impl Signer {
    /// Generates a key pair in `dir` (files `updater.key`, `updater.key.pub`).
    ///
    /// Errors: the CLI is missing or failed.
    pub fn generate(dir: &Path) -> io::Result<Signer> {
        let key = dir.join("updater.key");
        run(Command::new(tauri_cli())
            .args(["signer", "generate", "--ci", "-f", "-p", "", "-w"])
            .arg(&key))?;
        let pubkey = std::fs::read_to_string(key.with_extension("key.pub"))?
            .trim()
            .to_string();
        Ok(Signer { key, pubkey })
    }

    /// Signs `file` for `version` (`tauri signer sign --app-version`); the `.sig` file's
    /// content, base64 as the update server hands it out.
    ///
    /// Errors: the CLI failed.
    pub fn sign(&self, file: &Path, version: &str) -> io::Result<String> {
        run(Command::new(tauri_cli())
            .args(["signer", "sign", "-p", "", "--app-version", version, "-f"])
            .arg(&self.key)
            .arg(file))?;
        let mut sig = file.as_os_str().to_owned();
        sig.push(".sig");
        Ok(std::fs::read_to_string(sig)?.trim().to_string())
    }
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}
