//! A call's packets stored as they are (`push_tracks`): what the file decodes to is
//! what a decoder of the live packets produced, sample for sample.

use opus::{Application, Bitrate, Channels, Decoder, Encoder, Repacketizer};
use softphone_recorder::*;

const FRAME: usize = 960;

/// A 1.9 s phrase: a gliding tone that swells and fades, so every frame differs.
fn phrase(n: usize, base_hz: f32) -> Vec<f32> {
    let mut phase = 0f32;
    (0..n)
        .map(|i| {
            let t = i as f32 / 48_000.0;
            phase += 2.0 * std::f32::consts::PI * (base_hz + 80.0 * (3.0 * t).sin()) / 48_000.0;
            0.3 * (0.6 + 0.4 * (2.0 * t).sin()) * phase.sin()
        })
        .collect()
}

fn encoder(bitrate: i32) -> Encoder {
    let mut e = Encoder::new(48_000, Channels::Mono, Application::Voip).unwrap();
    e.set_bitrate(Bitrate::Bits(bitrate)).unwrap();
    e
}

/// 20 ms packets of `pcm`; frame 30 is two 10 ms frames in one packet and frame 40
/// four 5 ms frames (codes 1-3 of RFC 6716 §3.2), as a peer may send.
fn packets(pcm: &[f32], bitrate: i32) -> Vec<Vec<u8>> {
    let mut e20 = encoder(bitrate);
    let mut short = encoder(bitrate);
    let mut rp = Repacketizer::new().unwrap();
    pcm.chunks_exact(FRAME)
        .enumerate()
        .map(|(i, f)| {
            let split = match i {
                30 => 2,
                40 => 4,
                _ => 1,
            };
            if split == 1 {
                return e20.encode_vec_float(f, 1500).unwrap();
            }
            let parts: Vec<Vec<u8>> = f
                .chunks_exact(FRAME / split)
                .map(|c| short.encode_vec_float(c, 1500).unwrap())
                .collect();
            let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
            let mut out = vec![0u8; 4000];
            let n = rp.combine(&refs, &mut out).unwrap();
            out.truncate(n);
            out
        })
        .collect()
}

/// What a live decoder plays for these packets (`None` = lost: concealment), with
/// the encoder's lookahead (the file's pre-skip) cut off the front.
fn live_decode(packets: &[Option<Vec<u8>>], pre_skip: usize) -> Vec<f32> {
    let mut d = Decoder::new(48_000, Channels::Mono).unwrap();
    let mut out = Vec::new();
    let mut buf = [0f32; FRAME];
    for p in packets {
        let n = d
            .decode_float(p.as_deref().unwrap_or(&[]), &mut buf, false)
            .unwrap();
        assert_eq!(n, FRAME);
        out.extend_from_slice(&buf);
    }
    out.split_off(pre_skip)
}

fn meta() -> RecordingMeta {
    RecordingMeta {
        call_id: "0190f5c2-0000-7000-8000-000000000002".into(),
        left: "agent:alice".into(),
        right: "remote:lead-7".into(),
        ..Default::default()
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn call_packets_are_stored_as_sent_and_decode_to_what_was_heard() {
    let n = FRAME * 95;
    // The agent at 128 kbit/s, so packets are over 252 bytes (two-byte lengths in the
    // self-delimited framing); the remote at 32 kbit/s, with two losses in a row.
    let left: Vec<Option<Vec<u8>>> = packets(&phrase(n, 300.0), 128_000)
        .into_iter()
        .map(Some)
        .collect();
    let right: Vec<Option<Vec<u8>>> = packets(&phrase(n, 700.0), 32_000)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (!(60..62).contains(&i)).then_some(p))
        .collect();
    assert!(left.iter().flatten().any(|p| p.len() > 252));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.opus");
    let mut rec = DualTrackRecorder::create(&path, &meta(), &RecorderConfig::live_call()).unwrap();
    let frame = |p: &Option<Vec<u8>>| match p {
        Some(p) => TrackFrame::Opus(p.clone()),
        None => TrackFrame::Lost,
    };
    for (l, r) in left.iter().zip(&right) {
        rec.push_tracks(&frame(l), &frame(r)).unwrap();
    }
    assert_eq!(rec.replaced_packets(), 0);
    let summary = rec.finish().unwrap();
    assert_eq!(summary.duration_ms, (n / 48) as u64);

    let file = read_file(&path).unwrap();
    assert!(file.complete);
    assert_eq!((file.head.streams, file.head.coupled), (2, 0));
    let pre_skip = usize::from(file.head.pre_skip);
    assert_eq!(pre_skip, 312, "libopus's lookahead at 48 kHz");
    let audio = decode_file(&file).unwrap();
    let (l, r) = (audio.channel(0), audio.channel(1));
    assert_eq!(l.len(), n);
    // Up to the last 6.5 ms, which the live encoders still held when the call ended.
    let heard_left = live_decode(&left, pre_skip);
    let heard_right = live_decode(&right, pre_skip);
    let m = n - pre_skip;
    let dl = max_diff(&l[..m], &heard_left[..m]);
    let dr = max_diff(&r[..m], &heard_right[..m]);
    assert!(dl < 1e-6, "left differs from the live decode by {dl}");
    assert!(dr < 1e-6, "right differs from the live decode by {dr}");
    let lost = &r[60 * FRAME..62 * FRAME];
    assert!(
        lost.iter().any(|&x| x.abs() > 0.01),
        "the lost frames are concealed, not silent"
    );
}

#[test]
fn samples_and_packets_mix_in_one_track_and_bad_packets_are_counted_not_fatal() {
    let n = FRAME * 50;
    let pcm = phrase(n, 400.0);
    let good = packets(&pcm, 40_000);
    let mut e40 = encoder(40_000);
    let forty_ms = e40.encode_vec_float(&pcm[..2 * FRAME], 1500).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.opus");
    let mut rec = DualTrackRecorder::create(&path, &meta(), &RecorderConfig::live_call()).unwrap();
    for (i, p) in good.iter().enumerate() {
        let samples: Box<[f32; FRAME]> =
            Box::new(pcm[i * FRAME..(i + 1) * FRAME].try_into().unwrap());
        let left = match i {
            10 => TrackFrame::Opus(forty_ms.clone()),
            11 => TrackFrame::Opus(vec![]),
            12 => TrackFrame::Opus(vec![0xFF, 0xFF, 0xFF]),
            20..=29 => TrackFrame::Pcm(samples.clone()),
            _ => TrackFrame::Opus(p.clone()),
        };
        let right = if (35..45).contains(&i) {
            TrackFrame::Silence
        } else {
            TrackFrame::Pcm(samples)
        };
        rec.push_tracks(&left, &right).unwrap();
    }
    assert_eq!(rec.replaced_packets(), 3, "40 ms, empty and malformed");
    rec.finish().unwrap();

    let audio = decode_file(&read_file(&path).unwrap()).unwrap();
    let (l, r) = (audio.channel(0), audio.channel(1));
    assert_eq!(l.len(), n);
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let corr = |a: &[f32], b: &[f32]| {
        let ab: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        ab / (rms(a) * rms(b) * a.len() as f32)
    };
    // Encoded samples in the middle of a run of packets (the encoder starts from
    // silence, so its first 6.5 ms are quiet) and packets again afterwards.
    let span = |a: usize, b: usize| (a * FRAME + 400)..(b * FRAME);
    assert!(corr(&l[span(20, 30)], &pcm[span(20, 30)]) > 0.9);
    assert!(corr(&l[span(31, 50)], &pcm[span(31, 50)]) > 0.9);
    assert!(corr(&r[span(1, 35)], &pcm[span(1, 35)]) > 0.9);
    // (The last frame before speech resumes holds the codec's overlap: left out.)
    assert!(
        rms(&r[span(36, 44)]) < 1e-3,
        "silence on the right, below -60 dBFS"
    );
}
