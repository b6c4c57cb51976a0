//! Upload throughput: a 50 MB recording through the real client and server (tus PATCHes,
//! fsync before each acknowledged offset, sha256 at the end, move into the object
//! store) against a raw loopback TCP copy of the same bytes into a file with one fsync.
//!
//! `cargo run --release -p softphone-server --example upload_throughput -- [MB] [RUNS]`

use softphone_client::{Client, UploadMeta};
use softphone_server::{add_user, db, Config};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn raw_copy(bytes: &[u8], dir: &std::path::Path) -> anyhow::Result<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let out = dir.join("raw.bin");
    let recv = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut f = tokio::fs::File::create(&out).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            f.write_all(&buf[..n]).await?;
        }
        f.sync_all().await?;
        anyhow::Ok(())
    });
    let t = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(bytes).await?;
    s.shutdown().await?;
    recv.await??;
    Ok(t.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mb: usize = std::env::args().nth(1).map_or(Ok(50), |s| s.parse())?;
    let runs: usize = std::env::args().nth(2).map_or(Ok(3), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let conn = db::open(&data)?;
    add_user(
        &conn,
        "Bench",
        "a@bench.test",
        "A",
        softphone_proto::Role::Agent,
        "bench-password",
    )?;
    drop(conn);
    let mut cfg = Config::new(data);
    cfg.listen = "127.0.0.1:0".parse()?;
    let server = softphone_server::start(&cfg).await?;
    let mut client = Client::new(&server.url())?;
    client.login("a@bench.test", "bench-password").await?;

    let bytes: Vec<u8> = (0..mb * 1_000_000)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    let file = dir.path().join("rec.opus");
    std::fs::write(&file, &bytes)?;
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let meta = UploadMeta {
            call_id: uuid::Uuid::now_v7(),
            sha256: sha.clone(),
            duration_ms: 0,
            channels: 2,
        };
        let t = Instant::now();
        client
            .upload_recording(&file, &meta, 8 << 20, |_, _| {})
            .await?;
        ours.push(t.elapsed().as_secs_f64());
        raw.push(raw_copy(&bytes, dir.path()).await?);
    }
    ours.sort_by(f64::total_cmp);
    raw.sort_by(f64::total_cmp);
    let (o, r) = (ours[runs / 2], raw[runs / 2]);
    println!(
        "{mb} MB, median of {runs}: upload {o:.3} s ({:.0} MB/s), raw loopback copy {r:.3} s ({:.0} MB/s), ratio {:.2}",
        mb as f64 / o,
        mb as f64 / r,
        o / r
    );
    server.stop().await?;
    Ok(())
}
