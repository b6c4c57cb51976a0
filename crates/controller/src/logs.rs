//! The app's and the CLI's own logs: a daily-rotated file in the platform's log folder,
//! with phone numbers, e-mail addresses and tokens redacted from every line before it
//! reaches the file or stderr.
//!
//! Key design decision: redaction happens on the *formatted line*, in the writer that
//! every tracing layer writes through ([`Redacting`]), not in each `tracing::info!` call.
//! A field added later, a dependency's trace output or an error message that echoes
//! its input is therefore covered too; what is recognised is listed on [`redact`].
//! Rotation is tracing-appender's (daily, [`KEEP_FILES`] files kept); on top of it each
//! day's file is capped at [`MAX_FILE_BYTES`] so a loop that logs cannot fill the disk.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use regex::{Captures, Regex};
use tracing_subscriber::fmt::MakeWriter;

/// File name prefix of the log files: `agent-softphone.YYYY-MM-DD.log` (UTC day).
pub const FILE_PREFIX: &str = "agent-softphone";
/// File name suffix of the log files.
pub const FILE_SUFFIX: &str = "log";
/// Daily files kept; older ones are deleted at rotation (one week).
pub const KEEP_FILES: usize = 7;
/// Bytes written to one day's file at most (20 MiB); further lines that day are
/// dropped after one line saying so.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// The file's default filter (`EnvFilter` syntax): our crates at info, dependencies at warn.
pub const DEFAULT_FILTER: &str = "warn,agent_softphone_lib=info,softphone=info,softphone_controller=info,softphone_call=info,softphone_client=info,softphone_store=info";

/// What replaces a phone number.
pub const PHONE: &str = "[phone]";
/// What replaces an e-mail address.
pub const EMAIL: &str = "[email]";
/// What replaces a token, password or other secret.
pub const TOKEN: &str = "[token]";

static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap()
});
static AUTH_SCHEME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+").unwrap());
// A value under a secret-named key: `token=…`, `"password":"…"`, `turn_secret: …`.
static SECRET_KV_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(\w*(?:token|password|passwd|secret|credential|authorization|api_?key))(["']?\s*[:=]\s*["']?)([^\s"'&,;})\]]+)"#,
    )
    .unwrap()
});
// A value under a phone-named key, in any form: `phone=…`, `"wa_id":"34600…"`.
static PHONE_KV_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(\w*phone\w*|tel|msisdn|wa_id|caller_id)(["']?\s*[:=]\s*["']?)(\+?[0-9][0-9 ().-]*[0-9])"#,
    )
    .unwrap()
});
// An international number (+ then digits with the usual separators), or a tel: URI.
static PHONE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+|\btel:\+?)[0-9][0-9 ().-]*[0-9]\b").unwrap());
// An opaque run of 32+ URL-safe characters: our tokens are 43 (32 random bytes,
// base64url), link tokens in `/join/{token}` included.
static OPAQUE_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[A-Za-z0-9_-]{32,}").unwrap());

/// Replaces personal data and secrets in one log line.
///
/// Recognised:
/// - e-mail addresses → `[email]`;
/// - `Bearer X` / `Basic X` → `Bearer [token]`;
/// - the value of a key whose name contains token, password, secret, credential,
///   authorization or api_key (`k=v`, `k: v`, `"k":"v"`) → `[token]`;
/// - opaque runs of 32+ URL-safe characters mixing upper case, lower case and digits
///   (session and link tokens) → `[token]`; hex digests and UUIDs, which have no upper
///   case, stay readable for diagnosis;
/// - phone numbers in international form (`+34 600 100 200`, `tel:+3460…`) and any
///   value under a phone-named key (`phone`, `tel`, `msisdn`, `wa_id`, `caller_id`)
///   → `[phone]`.
///
/// Not recognised: a bare national number (`600100200`) outside a phone-named key; it
/// cannot be told from a timestamp or a byte count.
pub fn redact(line: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(line);
    let mut apply = |re: &Regex, f: &dyn Fn(&Captures) -> String| {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, |c: &Captures| f(c)).into_owned());
        }
    };
    apply(&EMAIL_RE, &|_| EMAIL.into());
    apply(&AUTH_SCHEME_RE, &|c| format!("{} {TOKEN}", &c[1]));
    apply(&SECRET_KV_RE, &|c| {
        let v = &c[3];
        if v.starts_with('[') || v.eq_ignore_ascii_case("bearer") || v.eq_ignore_ascii_case("basic")
        {
            c[0].to_string()
        } else {
            format!("{}{}{TOKEN}", &c[1], &c[2])
        }
    });
    apply(&PHONE_KV_RE, &|c| format!("{}{}{PHONE}", &c[1], &c[2]));
    apply(&PHONE_RE, &|c| {
        let digits = c[0].bytes().filter(u8::is_ascii_digit).count();
        if digits >= 7 {
            PHONE.into()
        } else {
            c[0].to_string()
        }
    });
    apply(&OPAQUE_RE, &|c| {
        let s = &c[0];
        let mixed = s.bytes().any(|b| b.is_ascii_uppercase())
            && s.bytes().any(|b| b.is_ascii_lowercase())
            && s.bytes().any(|b| b.is_ascii_digit());
        if mixed {
            TOKEN.into()
        } else {
            s.to_string()
        }
    });
    out
}

/// The app's log folder: `SOFTPHONE_LOG_DIR` when set, else the platform's log folder,
/// the same one Tauri's `app_log_dir` names:
/// `~/.local/share/com.agentsoftphone.desktop/logs` on Linux,
/// `~/Library/Logs/com.agentsoftphone.desktop` on macOS,
/// `%LOCALAPPDATA%\com.agentsoftphone.desktop\logs` on Windows. `None` when the OS
/// reports no home folder.
pub fn default_dir() -> Option<PathBuf> {
    const ID: &str = "com.agentsoftphone.desktop";
    if let Some(d) = std::env::var_os("SOFTPHONE_LOG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if cfg!(target_os = "macos") {
        dirs::home_dir().map(|h| h.join("Library/Logs").join(ID))
    } else {
        dirs::data_local_dir().map(|d| d.join(ID).join("logs"))
    }
}

/// A [`MakeWriter`] that redacts each formatted event ([`redact`]) before handing it
/// to the inner writer, and stops writing after `cap` bytes per UTC day (`None`: no
/// cap), with one line saying so.
///
/// tracing-subscriber's fmt layer formats an event into one buffer and writes it with
/// one `write_all`, so each `write` call here sees whole lines.
pub struct Redacting<M> {
    inner: M,
    cap: Option<u64>,
    // (UTC day number, bytes written that day), shared by every writer handed out.
    day_bytes: Arc<Mutex<(u64, u64)>>,
}

impl<M> Redacting<M> {
    /// Wraps `inner`; `cap` bytes per UTC day at most.
    pub fn new(inner: M, cap: Option<u64>) -> Self {
        Self {
            inner,
            cap,
            day_bytes: Arc::new(Mutex::new((0, 0))),
        }
    }
}

/// The writer [`Redacting`] hands out for one event.
pub struct RedactingWriter<W> {
    inner: W,
    cap: Option<u64>,
    day_bytes: Arc<Mutex<(u64, u64)>>,
}

fn utc_day() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let clean = redact(&text);
        let mut last = false;
        if let Some(cap) = self.cap {
            let day = utc_day();
            let mut counted = self.day_bytes.lock().unwrap_or_else(|e| e.into_inner());
            if counted.0 != day {
                *counted = (day, 0);
            }
            if counted.1 >= cap {
                return Ok(buf.len());
            }
            counted.1 += clean.len() as u64;
            last = counted.1 >= cap;
        }
        self.inner.write_all(clean.as_bytes())?;
        if let (true, Some(cap)) = (last, self.cap) {
            self.inner.write_all(
                format!(
                    "log file reached {cap} bytes today; further lines are dropped until tomorrow (UTC)\n"
                )
                .as_bytes(),
            )?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            cap: self.cap,
            day_bytes: self.day_bytes.clone(),
        }
    }
}

/// How [`init`] sets logging up.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Folder for the rotating log file; `None`: no file.
    pub dir: Option<PathBuf>,
    /// Filter for the file, in `EnvFilter` syntax (e.g. `info`, `warn,softphone=debug`).
    pub file_filter: String,
    /// Filter for stderr; `None`: nothing on stderr.
    pub stderr_filter: Option<String>,
}

/// Errors from [`init`]; `code()` gives a stable code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log folder cannot be created or its file opened.
    #[error("cannot write logs in {dir}: {source}")]
    Folder {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A filter does not parse.
    #[error("invalid log filter {0:?}")]
    Filter(String),
    /// A global subscriber was already installed (a second `init`).
    #[error("logging is already set up")]
    AlreadySet,
}

impl LogError {
    /// Stable code: `logs.folder`, `logs.filter`, `logs.already_set`.
    pub fn code(&self) -> &'static str {
        match self {
            LogError::Folder { .. } => "logs.folder",
            LogError::Filter(_) => "logs.filter",
            LogError::AlreadySet => "logs.already_set",
        }
    }
}

/// Installs the process's tracing subscriber: the redacted daily file in `cfg.dir`
/// (created, mode 0700 on Unix) and, if asked, redacted stderr. Call once, early.
pub fn init(cfg: &LogConfig) -> Result<(), LogError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};

    let filter = |s: &str| EnvFilter::try_new(s).map_err(|_| LogError::Filter(s.to_string()));
    let file_layer = match &cfg.dir {
        Some(dir) => {
            let folder = |source| LogError::Folder {
                dir: dir.clone(),
                source,
            };
            create_private_dir(dir).map_err(folder)?;
            let appender = tracing_appender::rolling::RollingFileAppender::builder()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(FILE_PREFIX)
                .filename_suffix(FILE_SUFFIX)
                .max_log_files(KEEP_FILES)
                .build(dir)
                .map_err(|e| folder(io::Error::other(e)))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(Redacting::new(appender, Some(MAX_FILE_BYTES)))
                    .with_filter(filter(&cfg.file_filter)?),
            )
        }
        None => None,
    };
    let stderr_layer = match &cfg.stderr_filter {
        Some(f) => Some(
            tracing_subscriber::fmt::layer()
                .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
                .with_writer(Redacting::new(io::stderr, None))
                .with_filter(filter(f)?),
        ),
        None => None,
    };
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .map_err(|_| LogError::AlreadySet)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The log files in `dir`, oldest first (their names sort by date).
pub fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// The last `max_bytes` bytes of the logs in `dir` (across files, newest last), cut at a
/// line start; empty when there are none. Already redacted when written, and redacted
/// again here in case a file came from an older version.
pub fn tail(dir: &Path, max_bytes: usize) -> io::Result<String> {
    let mut chunks: Vec<String> = Vec::new();
    let mut left = max_bytes;
    for path in files(dir)?.iter().rev() {
        if left == 0 {
            break;
        }
        let bytes = std::fs::read(path)?;
        let start = bytes.len().saturating_sub(left);
        let mut text = String::from_utf8_lossy(&bytes[start..]).into_owned();
        if start > 0 && bytes[start - 1] != b'\n' {
            text = match text.find('\n') {
                Some(i) => text[i + 1..].to_string(),
                None => String::new(),
            };
        }
        left = left.saturating_sub(bytes.len() - start);
        chunks.push(text);
    }
    chunks.reverse();
    Ok(redact(&chunks.concat()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_emails_and_tokens_are_replaced() {
        let token = "q3Vx8Zk1_lM0aB-7Yt2WcR9dPe4sNf6hJg5uKi3oLy0";
        let cases = [
            ("calling +34 600 100 200 now", "calling [phone] now"),
            ("to=+34601007919", "to=[phone]"),
            ("dial tel:+1-415-555-0123.", "dial tel:[phone]."),
            ("from +1 (415) 555-0123 via", "from [phone] via"),
            (r#"{"phone":"600 100 200"}"#, r#"{"phone":"[phone]"}"#),
            ("wa_id=34601007919 ok", "wa_id=[phone] ok"),
            ("signed in as alice@acme.test", "signed in as [email]"),
            (
                "authorization: Bearer abc.def",
                "authorization: Bearer [token]",
            ),
            ("GET /api?token=abc123&x=1", "GET /api?token=[token]&x=1"),
            (r#""password":"hunter2""#, r#""password":"[token]""#),
            ("turn_secret = s3cr3t-value", "turn_secret = [token]"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
        let url = format!("GET /join/{token} 200");
        assert_eq!(redact(&url), "GET /join/[token] 200");
    }

    #[test]
    fn diagnostic_values_stay_readable() {
        for keep in [
            "2026-12-07T19:02:30.123456Z  INFO call{id=0193b2c4-1234-7abc-8def-0123456789ab}: started",
            "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "bytes=11645244 elapsed_ms=1765130000000 at 127.0.0.1:8787",
            "candidate:1 1 udp 2130706431 192.168.1.5 54321 typ host",
            "rtt=0.042 jitter_ms=12 loss=-3 level -12.5 dBFS",
        ] {
            assert_eq!(redact(keep), keep);
        }
    }

    #[test]
    fn the_file_cap_drops_lines_after_saying_so() {
        let buf = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let make = {
            let buf = buf.clone();
            move || Shared(buf.clone())
        };
        let w = Redacting::new(make, Some(100));
        for i in 0..10 {
            w.make_writer()
                .write_all(format!("line {i} for +34 600 100 200 ......\n").as_bytes())
                .unwrap();
        }
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // 26-byte lines: the fourth crosses 100 bytes and is the last one written.
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[..4].iter().all(|l| l.contains("[phone]")));
        assert!(lines[4].starts_with("log file reached 100 bytes today"));
    }

    #[test]
    fn tail_returns_whole_lines_from_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("agent-softphone.2026-12-06.log"),
            "old 1\nold 2\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("agent-softphone.2026-12-07.log"),
            "new 1\nnew 2\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("other.txt"), "not a log\n").unwrap();
        assert_eq!(
            tail(dir.path(), 1000).unwrap(),
            "old 1\nold 2\nnew 1\nnew 2\n"
        );
        assert_eq!(tail(dir.path(), 18).unwrap(), "old 2\nnew 1\nnew 2\n");
        assert_eq!(tail(dir.path(), 6).unwrap(), "new 2\n");
    }
}
