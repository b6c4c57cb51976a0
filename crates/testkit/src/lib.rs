//! `softphone-testkit`: the real inputs and peers that the CLI's tests, the app's
//! WebDriver test, the headless scenario and the footprint benchmark share: recorded
//! human speech (alsa-utils' voices, joined with sox), Chromium's command line as a
//! WebRTC peer, nginx terminating TLS in front of a test server ([`tls`]), and coturn as
//! a TURN server with REST API credentials ([`turn`]), and update keys and
//! signatures from the Tauri CLI ([`updates`]).
//!
//! Key design decision: std only. Every crate's tests can use it without pulling in the
//! app's dependency tree, and the flags that keep Chromium quiet on a closed network
//! live in one place instead of drifting apart in four.

pub mod speech;
pub mod tls;
pub mod turn;
pub mod updates;

use std::io;
use std::path::Path;
use std::process::Command;

/// The six recorded voices of alsa-utils (`/usr/share/sounds/alsa/<name>.wav`, Debian's
/// `alsa-utils`): a man saying "front center", "front left", … about 1.4 s each.
pub const ALSA_VOICES: [&str; 6] = [
    "Front_Center",
    "Front_Left",
    "Front_Right",
    "Rear_Center",
    "Rear_Left",
    "Rear_Right",
];

/// Joins alsa-utils' recorded `voices` (names from [`ALSA_VOICES`]) into `out`, a
/// 48 kHz mono 16-bit WAV, with sox; `effects` are sox effects appended after the
/// output (e.g. `["repeat", "1"]` plays the whole sequence twice).
///
/// Errors: sox missing, or failing (its stderr is in the message).
pub fn alsa_speech(voices: &[&str], out: &Path, effects: &[&str]) -> io::Result<()> {
    let mut sox = Command::new("sox");
    for v in voices {
        sox.arg(format!("/usr/share/sounds/alsa/{v}.wav"));
    }
    sox.args(["-r", "48000", "-c", "1", "-b", "16"])
        .arg(out)
        .args(effects);
    let run = sox
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("sox: {e} (apt install sox)")))?;
    if !run.status.success() {
        return Err(io::Error::other(format!(
            "sox failed ({}): {}",
            run.status,
            String::from_utf8_lossy(&run.stderr).trim()
        )));
    }
    Ok(())
}

/// Chromium flags for any run here: no sandbox (tests run as root in CI), no GPU (no
/// display hardware), and none of the background connections to Google's hosts, which
/// this machine's closed network refuses many at a time; camera/microphone prompts
/// answered yes.
pub const CHROMIUM_FLAGS: [&str; 7] = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
];

/// Headless Chromium as the prospect's browser in a call: it opens `url` (a call page),
/// speaks `voice` (a WAV file) as its microphone, plays what it hears on its default
/// audio output, and logs to stderr. `profile` is a fresh user-data folder. The caller
/// adds the environment (e.g. `PULSE_SINK`), stdio and process group.
pub fn chromium_peer(browser: &Path, voice: &Path, profile: &Path, url: &str) -> Command {
    let mut cmd = Command::new(browser);
    cmd.arg("--headless=new")
        .args(CHROMIUM_FLAGS)
        .args([
            "--use-fake-device-for-media-stream",
            "--allow-loopback-in-peer-connection",
            "--autoplay-policy=no-user-gesture-required",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--use-file-for-fake-audio-capture={}",
            voice.display()
        ))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_voices_join_into_one_48_khz_mono_file() {
        let dir = std::env::temp_dir().join(format!("softphone-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("two.wav");
        alsa_speech(&ALSA_VOICES[..2], &out, &[]).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        // RIFF header: mono (22), 48000 Hz (24), 16-bit (34).
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1);
        assert_eq!(
            u32::from_le_bytes(bytes[24..28].try_into().unwrap()),
            48_000
        );
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16);
        // Two voices of about 1.4 s: between 2 and 4 s of samples.
        let secs = (bytes.len() - 44) as f64 / 96_000.0;
        assert!((2.0..4.0).contains(&secs), "{secs} s");
        let e = alsa_speech(&["No_Such_Voice"], &dir.join("x.wav"), &[]).unwrap_err();
        assert!(e.to_string().contains("sox failed"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_peer_opens_the_page_with_its_voice() {
        let cmd = chromium_peer(
            Path::new("/usr/bin/chromium"),
            Path::new("/tmp/v.wav"),
            Path::new("/tmp/p"),
            "http://127.0.0.1:1/join/x",
        );
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.first().map(String::as_str), Some("--headless=new"));
        assert!(args.contains(&"--use-file-for-fake-audio-capture=/tmp/v.wav".into()));
        assert!(args.contains(&"--disable-background-networking".into()));
        assert_eq!(
            args.last().map(String::as_str),
            Some("http://127.0.0.1:1/join/x")
        );
    }
}
