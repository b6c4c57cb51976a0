//! A call with an agent on real devices (PulseAudio virtual mic and speaker) against a
//! colleague's engine, through the real server. Its own test binary, so its real-time
//! audio never shares the process with the other call tests.

mod call_helpers;
mod common;

use call_helpers::*;
use common::*;
use softphone_call::{AudioIn, AudioOut, CallEvent, Command, EndReason};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_real_devices_talks_with_a_colleague() {
    if !require_pulse() {
        return;
    }
    // The playout threads' state every 5 s, shown when the test fails (real devices
    // under load are where playout goes wrong).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOFTPHONE_LOG")
                .unwrap_or_else(|_| "softphone_call=debug".into()),
        )
        .with_test_writer()
        .try_init();
    let fx = fixtures();
    let w = world().await;
    let (_ca, sa, _) = w.agent("alice").await;
    let (_cb, sb, bob) = w.agent("bob").await;
    let rec = w.path("alice.opus");
    let bob_heard = w.path("bob-heard.wav");
    let speaker = w.path("speaker.raw");
    // Everything alice's app plays reaches the virtual speaker; record its monitor.
    let mut parecord = std::process::Command::new("parecord")
        .args([
            "-d",
            "speaker.monitor",
            "--raw",
            "--format=float32le",
            "--rate=48000",
            "--channels=1",
            // Low latency for the monitored sink (see devices.rs).
            "--latency-msec=20",
        ])
        .arg(&speaker)
        .spawn()
        .unwrap();
    let mut b = answer(
        sb,
        loopback_setup(
            AudioIn::Wav(fx.join("remote.wav")),
            AudioOut::Wav(bob_heard.clone()),
            None,
        ),
    );
    let mut a = dial(
        sa,
        bob,
        loopback_setup(
            AudioIn::Device(None),
            AudioOut::Device(None),
            Some(rec.clone()),
        ),
    );
    a.connected().await;
    b.connected().await;
    a.wait_for(10, |e| matches!(e, CallEvent::MicLevel(_)))
        .await;
    // Alice speaks into the virtual microphone.
    let played = tokio::process::Command::new("paplay")
        .args(["-d", "micfeed"])
        .arg(fx.join("alsa.wav"))
        .status()
        .await
        .unwrap();
    assert!(played.success());
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.cmd.send(Command::Hangup).await.unwrap();
    let (ra, _) = a.report().await;
    let (rb, _) = b.report().await;
    unsafe { libc::kill(parecord.id() as i32, libc::SIGINT) };
    parecord.wait().unwrap();
    assert_eq!(ra.end_reason, EndReason::LocalHangup);
    assert_eq!(rb.end_reason, EndReason::RemoteHangup);

    // Bob heard what went into alice's microphone; alice's speaker played bob; the
    // dual-track recording holds the microphone left and bob right. Audio that went
    // through a device is judged in 250 ms chunks (see `heard_anywhere_in`): every
    // figure is printed before any is asserted, so a failure shows the whole picture.
    let mic = wav(&fx.join("alsa.wav"));
    let src = wav(&fx.join("remote.wav"));
    let spk: Vec<f32> = std::fs::read(&speaker)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_opusinfo_clean(&rec);
    let chans = opusdec(&rec);
    let checks = [
        (
            "bob hears alice's microphone",
            heard_anywhere_in(&wav(&bob_heard), &mic, 12_000),
        ),
        (
            "alice's speaker plays bob",
            heard_anywhere_in(&spk, &src, 12_000),
        ),
        (
            "recording left = alice's microphone",
            heard_anywhere_in(&chans[0], &mic, 12_000),
        ),
        (
            "recording right = bob",
            heard_anywhere_in(&chans[1], &src, 12_000),
        ),
    ];
    for (what, c) in &checks {
        eprintln!("{what}, per 250 ms (sorted): {c:.2?}");
    }
    eprintln!("alice's jitter buffer: {:?}", ra.jitter);
    eprintln!("bob's jitter buffer: {:?}", rb.jitter);
    for (what, c) in &checks {
        assert_clean_playout(c, what);
    }
    // The left track is exactly what was sent: aligned with the microphone's speech.
    assert_heard(&chans[0], &mic, "recording left = alice's microphone");
    w.server.stop().await.unwrap();
}

/// Speech through a device came out clean: most 250 ms chunks match their source
/// closely (0.9-0.99 here). Some fall lower: the quiet end of a word, and chunks where
/// a jitter buffer gave back depth in a pause (the virtual speaker pulls unevenly, so
/// that happens dozens of times a call), which shifts part of the chunk by 20 ms.
/// Unrelated audio scores ~0.1.
fn assert_clean_playout(sorted: &[f64], what: &str) {
    assert!(sorted.len() >= 20, "{what}: too little speech {sorted:.2?}");
    assert!(sorted[sorted.len() / 2] > 0.85, "{what}: {sorted:.2?}");
    assert!(sorted[sorted.len() / 4] > 0.6, "{what}: {sorted:.2?}");
}
