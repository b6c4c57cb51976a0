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

    // Bob heard what went into alice's microphone; alice's speaker played bob.
    assert_heard(
        &wav(&bob_heard),
        &wav(&fx.join("alsa.wav")),
        "bob hears alice's microphone",
    );
    let spk: Vec<f32> = std::fs::read(&speaker)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let src = wav(&fx.join("remote.wav"));
    let c = heard_anywhere(&spk, &src);
    eprintln!("alice's speaker played bob, per second (sorted): {c:.2?}");
    // Known defect: on a busy 2-core CI machine some seconds of playout glitch (0.3-0.7
    // per second; 0.88-0.95 on a quiet one): the playout thread is not real-time. The
    // bound says speech came out (unrelated audio scores ~0.1), not that it was clean.
    assert!(c[c.len() / 2] > 0.5, "alice's speaker: {c:.2?}");
    // The dual-track recording: the microphone left, bob right.
    assert_opusinfo_clean(&rec);
    let chans = opusdec(&rec);
    assert_heard(
        &chans[0],
        &wav(&fx.join("alsa.wav")),
        "recording left = alice's microphone",
    );
    let c = heard_anywhere(&chans[1], &src);
    // The right track is what was played, so it carries the same playout glitches
    // as the speaker (known defect, see above): speech present, not glitch-free.
    assert!(c[c.len() / 2] > 0.5, "recording right = bob: {c:.2?}");
    w.server.stop().await.unwrap();
}
