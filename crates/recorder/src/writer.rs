//! Crash-safe Ogg Opus file writer (one logical stream).

use crate::head::{OpusHead, OpusTags};
use crate::ogg::{self, FLAG_BOS, FLAG_EOS};
use crate::RecorderError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Suffix of a recording still being written (or left by a crash).
pub const PART_SUFFIX: &str = ".part";

/// Durability tuning.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Audio per Ogg page, ms. Each page is written with one `write(2)` as soon as it
    /// is full, so at most this much audio is lost on a crash. Default 500 ms.
    pub page_ms: u32,
    /// Longest wall-clock interval between `fsync` calls, ms (power-loss bound).
    /// Default 2000 ms.
    pub fsync_ms: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            page_ms: 500,
            fsync_ms: 2000,
        }
    }
}

/// What a finished recording is: where, how long, how big, and its fingerprint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Final path of the file.
    pub path: PathBuf,
    /// Playable duration, ms (granule position minus pre-skip, / 48).
    pub duration_ms: u64,
    /// File size, bytes.
    pub bytes: u64,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
}

/// Writes Opus packets into `PATH.part` page by page and renames to `PATH` on
/// [`OggOpusWriter::finish`].
pub struct OggOpusWriter {
    final_path: PathBuf,
    part_path: PathBuf,
    file: File,
    serial: u32,
    sequence: u32,
    pre_skip: u16,
    /// Granule position after the last packet handed in (48 kHz samples incl. pre-skip).
    granule: i64,
    pending: Vec<u8>,
    pending_lens: Vec<usize>,
    pending_samples: u32,
    page_samples: u32,
    page: Vec<u8>,
    hasher: Sha256,
    bytes: u64,
    fsync_every: Duration,
    last_fsync: Instant,
    finished: bool,
}

fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

pub(crate) fn sync_parent(path: &Path) {
    // Makes the create/rename itself durable; not supported on every platform.
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

impl OggOpusWriter {
    /// Creates `path.part` and writes the two header pages (durably).
    ///
    /// Errors: [`RecorderError::Exists`] if `path` or `path.part` exists (nothing is
    /// overwritten); [`RecorderError::Io`] if the folder is missing or not writable.
    pub fn create(
        path: &Path,
        head: &OpusHead,
        tags: &OpusTags,
        opts: &WriterOptions,
    ) -> Result<Self, RecorderError> {
        if path.exists() {
            return Err(RecorderError::Exists(path.display().to_string()));
        }
        let part_path = part_path(path);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part_path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    RecorderError::Exists(part_path.display().to_string())
                }
                _ => RecorderError::io(&part_path, e),
            })?;
        let serial = {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(16)) ^ std::process::id()
        };
        let mut w = Self {
            final_path: path.to_path_buf(),
            part_path,
            file,
            serial,
            sequence: 0,
            pre_skip: head.pre_skip,
            granule: 0,
            pending: Vec::with_capacity(16 * 1024),
            pending_lens: Vec::with_capacity(64),
            pending_samples: 0,
            page_samples: opts.page_ms.max(20) * 48,
            page: Vec::with_capacity(16 * 1024),
            hasher: Sha256::new(),
            bytes: 0,
            fsync_every: Duration::from_millis(u64::from(opts.fsync_ms)),
            last_fsync: Instant::now(),
            finished: false,
        };
        let tags = tags.to_bytes();
        if ogg::segments_for(tags.len()) > 255 {
            return Err(RecorderError::InvalidInput(
                "OpusTags larger than one page".into(),
            ));
        }
        w.emit_page(FLAG_BOS, 0, &[&head.to_bytes()])?;
        w.emit_page(0, 0, &[&tags])?;
        w.sync()?;
        sync_parent(&w.part_path);
        Ok(w)
    }

    /// Path being written (`….part`).
    pub fn part_path(&self) -> &Path {
        &self.part_path
    }

    /// Granule position after the last packet (48 kHz samples including pre-skip).
    pub fn granule(&self) -> i64 {
        self.granule
    }

    fn emit_page(
        &mut self,
        flags: u8,
        granule: i64,
        packets: &[&[u8]],
    ) -> Result<(), RecorderError> {
        self.page.clear();
        ogg::write_page(
            &mut self.page,
            flags,
            granule,
            self.serial,
            self.sequence,
            packets,
        );
        self.sequence += 1;
        self.file
            .write_all(&self.page)
            .map_err(|e| RecorderError::io(&self.part_path, e))?;
        self.hasher.update(&self.page);
        self.bytes += self.page.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), RecorderError> {
        self.file
            .sync_data()
            .map_err(|e| RecorderError::io(&self.part_path, e))?;
        self.last_fsync = Instant::now();
        Ok(())
    }

    fn flush_page(&mut self, flags: u8, granule: i64) -> Result<(), RecorderError> {
        let pending = std::mem::take(&mut self.pending);
        let mut packets = Vec::with_capacity(self.pending_lens.len());
        let mut off = 0;
        for &l in &self.pending_lens {
            packets.push(&pending[off..off + l]);
            off += l;
        }
        let r = self.emit_page(flags, granule, &packets);
        self.pending = pending;
        self.pending.clear();
        self.pending_lens.clear();
        self.pending_samples = 0;
        r?;
        if self.last_fsync.elapsed() >= self.fsync_every {
            self.sync()?;
        }
        Ok(())
    }

    fn pending_segments(&self) -> usize {
        self.pending_lens
            .iter()
            .map(|&l| ogg::segments_for(l))
            .sum()
    }

    /// Appends one Opus packet covering `samples` 48 kHz samples. The current page is
    /// written first when it already holds a page's worth of audio or would overflow.
    pub fn write_packet(&mut self, packet: &[u8], samples: u32) -> Result<(), RecorderError> {
        if self.finished {
            return Err(RecorderError::InvalidInput(
                "recording already finished".into(),
            ));
        }
        if !self.pending_lens.is_empty()
            && (self.pending_samples >= self.page_samples
                || self.pending_segments() + ogg::segments_for(packet.len()) > 255)
        {
            self.flush_page(0, self.granule)?;
        }
        self.pending.extend_from_slice(packet);
        self.pending_lens.push(packet.len());
        self.pending_samples += samples;
        self.granule += i64::from(samples);
        Ok(())
    }

    /// Writes the last page with the end-of-stream flag and `final_granule` (which may
    /// trim up to one frame of padding, RFC 7845 §4.4), fsyncs, renames `.part` away.
    ///
    /// Errors: [`RecorderError::InvalidInput`] if no audio packet was written or the
    /// granule is outside the last page; I/O errors from sync or rename.
    pub fn finish(mut self, final_granule: i64) -> Result<RecordingSummary, RecorderError> {
        let last_page_start = self.granule - i64::from(self.pending_samples);
        if self.pending_lens.is_empty()
            || final_granule > self.granule
            || final_granule <= last_page_start
            || final_granule < i64::from(self.pre_skip)
        {
            return Err(RecorderError::InvalidInput(format!(
                "final granule {final_granule} outside the last page ({last_page_start}..={})",
                self.granule
            )));
        }
        self.flush_page(FLAG_EOS, final_granule)?;
        self.sync()?;
        self.finished = true;
        if self.final_path.exists() {
            return Err(RecorderError::Exists(self.final_path.display().to_string()));
        }
        std::fs::rename(&self.part_path, &self.final_path)
            .map_err(|e| RecorderError::io(&self.final_path, e))?;
        sync_parent(&self.final_path);
        let hasher = std::mem::take(&mut self.hasher);
        Ok(RecordingSummary {
            path: self.final_path.clone(),
            duration_ms: ((final_granule - i64::from(self.pre_skip)).max(0) as u64) / 48,
            bytes: self.bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    }
}

impl Drop for OggOpusWriter {
    fn drop(&mut self) {
        if !self.finished && !self.pending_lens.is_empty() {
            // Unwinding or abandoned: keep what we have as a valid page in the `.part`
            // file; `recover` finishes it.
            let g = self.granule;
            let _ = self.flush_page(0, g);
            let _ = self.file.sync_data();
        }
    }
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<(String, u64), RecorderError> {
    let mut f = File::open(path).map_err(|e| RecorderError::io(path, e))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(|e| RecorderError::io(path, e))?;
    Ok((hex::encode(h.finalize()), n))
}
