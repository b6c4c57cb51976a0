//! Memory stays bounded while recordings move: 4 clients upload 64 MiB each while 4
//! others play a 64 MiB recording with `Range: bytes=0-`, all at once against the real
//! server in this process. The process's peak RSS may grow by less than 64 MiB, less
//! than one recording: nothing is read whole into memory, and a slow object store
//! slows the copy instead of queueing parts.
//!
//! Its own test binary: the peak RSS is the process's, so no other test may run beside
//! it.

mod common;

use common::{boot, client, data_dir};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use softphone_client::UploadMeta;
use std::io::Write;
use uuid::Uuid;

const MIB: u64 = 1024 * 1024;
const SIZE: u64 = 64 * MIB;

/// Writes `SIZE` bytes of a deterministic pattern (seeded) in 1 MiB pieces; returns
/// the file's sha256.
fn make_file(path: &std::path::Path, seed: u32) -> String {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut h = Sha256::new();
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let mut buf = vec![0u8; MIB as usize];
    for _ in 0..SIZE / MIB {
        for b in buf.iter_mut() {
            // xorshift32: cheap bytes that do not compress.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        h.update(&buf);
        f.write_all(&buf).unwrap();
    }
    f.flush().unwrap();
    hex::encode(h.finalize())
}

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_and_range_playback_run_in_bounded_memory() {
    let (dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;

    // One recording on the server to play back.
    let played = dir.path().join("played.opus");
    let sha = make_file(&played, 99);
    let played_call = common::call_with_lead(&alice).await;
    alice
        .upload_recording(
            &played,
            &UploadMeta {
                call_id: played_call,
                sha256: sha,
                duration_ms: 3_600_000,
                channels: 2,
            },
            MIB as usize,
            |_, _| {},
        )
        .await
        .unwrap();
    let mut files: Vec<(std::path::PathBuf, String, Uuid)> = Vec::new();
    for i in 0..4 {
        let p = dir.path().join(format!("up{i}.opus"));
        let sha = make_file(&p, i);
        files.push((p, sha, common::call_with_lead(&alice).await));
    }
    let (signed, _) = alice.recording_url(played_call, 600).await.unwrap();

    // Peak RSS from here on (Linux: writing 5 to clear_refs resets VmHWM).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status_kib("VmRSS:");

    let mut tasks = tokio::task::JoinSet::new();
    for (path, sha, call_id) in files {
        let c = alice.clone();
        tasks.spawn(async move {
            let meta = UploadMeta {
                call_id,
                sha256: sha,
                duration_ms: 3_600_000,
                channels: 2,
            };
            let info = c
                .upload_recording(&path, &meta, MIB as usize, |_, _| {})
                .await
                .unwrap();
            assert_eq!(info.bytes, SIZE);
            SIZE
        });
    }
    for _ in 0..4 {
        let url = signed.clone();
        tasks.spawn(async move {
            let resp = reqwest::Client::new()
                .get(url)
                .header("Range", "bytes=0-")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 206);
            let mut got = 0u64;
            let mut body = resp.bytes_stream();
            while let Some(chunk) = body.next().await {
                got += chunk.unwrap().len() as u64;
                // A listener plays in real time; this one reads slower than the disk.
                tokio::task::yield_now().await;
            }
            assert_eq!(got, SIZE, "the whole recording streamed");
            got
        });
    }
    let mut moved = 0;
    while let Some(r) = tasks.join_next().await {
        moved += r.unwrap();
    }
    let peak = status_kib("VmHWM:");
    let growth_mib = peak.saturating_sub(base) / 1024;
    eprintln!(
        "moved {} MiB; RSS {} MiB before, peak {} MiB (+{growth_mib} MiB)",
        moved / MIB,
        base / 1024,
        peak / 1024
    );
    assert_eq!(moved, 8 * SIZE);
    assert!(
        growth_mib < SIZE / MIB,
        "peak RSS grew {growth_mib} MiB while moving {} MiB",
        moved / MIB
    );
    server.stop().await.unwrap();
}
