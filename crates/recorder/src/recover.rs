//! Detecting and repairing recordings left unfinished by a crash or power loss.

use crate::ogg::{self, FLAG_BOS, FLAG_EOS};
use crate::writer::{sha256_file, sync_parent, RecordingSummary, PART_SUFFIX};
use crate::{OpusHead, RecorderError};
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What [`repair_file`] did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecoverOutcome {
    /// The file was unfinished and is now a complete recording.
    Repaired,
    /// The file was already complete; nothing changed.
    AlreadyComplete,
}

/// Result of repairing one file.
#[derive(Debug, Clone, Serialize)]
pub struct RecoverReport {
    /// The file that was examined.
    pub source: PathBuf,
    /// What happened.
    pub outcome: RecoverOutcome,
    /// Bytes of damaged tail dropped (a partly written page), 0 if none.
    pub dropped_bytes: u64,
    /// The usable recording afterwards.
    pub summary: RecordingSummary,
}

/// Repairs one recording in place: keeps the longest prefix of valid pages that ends
/// on a completed packet, marks its last page end-of-stream, fsyncs, and renames a
/// `NAME.opus.part` file to `NAME.opus`.
///
/// Only tail damage is repaired. Errors, with the file left untouched:
/// [`RecorderError::Format`] when it is not Ogg Opus; [`RecorderError::Unrecoverable`]
/// when it holds no audio page, is damaged in the middle (valid pages follow the
/// damage), or the final name is already taken.
pub fn repair_file(path: &Path) -> Result<RecoverReport, RecorderError> {
    let bytes = std::fs::read(path).map_err(|e| RecorderError::io(path, e))?;
    let unrecoverable = |reason: String| RecorderError::Unrecoverable {
        path: path.display().to_string(),
        reason,
    };
    let scan = ogg::scan(&bytes);
    let first = scan.pages.first().ok_or_else(|| {
        RecorderError::Format(format!("{}: no Ogg page at the start", path.display()))
    })?;
    let head_ok = first.1.flags & FLAG_BOS != 0
        && first
            .1
            .pieces
            .first()
            .is_some_and(|(p, _)| OpusHead::parse(p).is_ok());
    if !head_ok {
        return Err(RecorderError::Format(format!(
            "{}: no OpusHead on the first page",
            path.display()
        )));
    }
    if scan.valid_len < bytes.len() && has_page_after(&bytes[scan.valid_len..]) {
        return Err(unrecoverable(format!(
            "damaged in the middle at byte {}, valid pages follow",
            scan.valid_len
        )));
    }
    let serial = first.1.serial;
    // Last page (after the two header pages) whose final piece completes a packet.
    let last = scan
        .pages
        .iter()
        .enumerate()
        .skip(2)
        .filter(|(_, (_, p))| {
            p.serial == serial && p.granule >= 0 && p.pieces.last().is_some_and(|x| x.1)
        })
        .map(|(i, _)| i)
        .next_back()
        .ok_or_else(|| {
            unrecoverable("no complete audio page (killed before the first 500 ms?)".into())
        })?;
    let (off, page) = &scan.pages[last];
    let end = off + page.len;
    let is_part = path.to_string_lossy().ends_with(PART_SUFFIX);
    let final_path = if is_part {
        PathBuf::from(
            path.to_string_lossy()
                .trim_end_matches(PART_SUFFIX)
                .to_string(),
        )
    } else {
        path.to_path_buf()
    };
    let already = !is_part && page.flags & FLAG_EOS != 0 && end == bytes.len();
    if already {
        let (sha256, n) = sha256_file(path)?;
        return Ok(RecoverReport {
            source: path.to_path_buf(),
            outcome: RecoverOutcome::AlreadyComplete,
            dropped_bytes: 0,
            summary: summary(&bytes, page.granule, final_path, n, sha256)?,
        });
    }
    if is_part && final_path.exists() {
        return Err(unrecoverable(format!(
            "{} already exists",
            final_path.display()
        )));
    }
    let mut patched = bytes[*off..end].to_vec();
    ogg::set_page_flags(&mut patched, page.flags | FLAG_EOS);
    let granule = page.granule;
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| RecorderError::io(path, e))?;
    let io = |e| RecorderError::io(path, e);
    f.set_len(end as u64).map_err(io)?;
    f.seek(SeekFrom::Start(*off as u64)).map_err(io)?;
    f.write_all(&patched).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    if is_part {
        std::fs::rename(path, &final_path).map_err(|e| RecorderError::io(&final_path, e))?;
        sync_parent(&final_path);
    }
    let (sha256, n) = sha256_file(&final_path)?;
    tracing::info!(file = %final_path.display(), dropped = bytes.len() - end, "recording repaired");
    Ok(RecoverReport {
        source: path.to_path_buf(),
        outcome: RecoverOutcome::Repaired,
        dropped_bytes: (bytes.len() - end) as u64,
        summary: summary(&bytes, granule, final_path, n, sha256)?,
    })
}

fn summary(
    bytes: &[u8],
    granule: i64,
    path: PathBuf,
    n: u64,
    sha256: String,
) -> Result<RecordingSummary, RecorderError> {
    let head_page =
        ogg::parse_page(bytes).map_err(|_| RecorderError::Format("header page".into()))?;
    let head = OpusHead::parse(head_page.pieces[0].0)?;
    Ok(RecordingSummary {
        path,
        duration_ms: ((granule - i64::from(head.pre_skip)).max(0) as u64) / 48,
        bytes: n,
        sha256,
    })
}

fn has_page_after(tail: &[u8]) -> bool {
    (1..tail.len().saturating_sub(4))
        .any(|i| &tail[i..i + 4] == ogg::CAPTURE && ogg::parse_page(&tail[i..]).is_ok())
}

/// One examined file and what became of it.
pub type RecoverResult = (PathBuf, Result<RecoverReport, RecorderError>);

/// Finds and repairs every unfinished recording in `dir`: each `*.opus.part` file and
/// each `*.opus` file that does not end with an end-of-stream page. Returns one entry
/// per file examined that needed work or failed; complete files are skipped silently.
pub fn recover_dir(dir: &Path) -> Result<Vec<RecoverResult>, RecorderError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RecorderError::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let s = p.to_string_lossy();
            s.ends_with(".opus.part") || s.ends_with(".opus")
        })
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let r = repair_file(&p);
        if matches!(&r, Ok(rep) if rep.outcome == RecoverOutcome::AlreadyComplete) {
            continue;
        }
        out.push((p, r));
    }
    Ok(out)
}
