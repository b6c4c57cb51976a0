#!/usr/bin/env bash
# Mouth-to-ear delay: one-way added delay of a call, from a noise burst entering the
# caller's (virtual) microphone to it leaving the callee's (virtual) speaker, ours
# against Chromium-to-Chromium, same machine, same run, same devices.
#
# A private PulseAudio server has one stereo null sink `probe`. Its left channel is
# what the caller's microphone hears (`inject` plays into it; the source `mouth` reads
# it back), its right channel is the callee's speaker (`ear`). One recording of
# probe.monitor holds both, on one clock, so each burst's delay is exact to a sample.
#  - ours: two `softphone` CLIs through the local server (the caller captures `mouth`,
#    the callee plays to `ear`), with the callee's jitter buffer, decoder and device.
#  - Chromium: one headless page with two RTCPeerConnections on loopback, the first
#    sending getUserMedia(`mouth`, no voice processing), the second playing to `ear`
#    through an <audio> element with setSinkId.
# Usage: [ROUNDS=N] benches/mouth-to-ear.sh [SECONDS]   (default 30: ~30 bursts each
#   per round; rounds interleave ours and Chromium, and the bursts of all rounds are
#   pooled for the percentiles)
#   M2E_LOGS=DIR keeps the calls' logs (with SOFTPHONE_LOG=softphone_call=debug: the
#   audio threads' traces).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-30}"
ROUNDS="${ROUNDS:-1}"
. benches/common.sh
build_bins
CHROMIUM="$(command -v chromium || command -v chromium-browser)"
WORK="$(mktemp -d)"
DIR="$WORK/pulse"
cleanup() {
  [ -n "${REC:-}" ] && kill "$REC" 2>/dev/null
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
  [ -n "${WEB:-}" ] && kill "$WEB" 2>/dev/null
  [ -n "${CHR:-}" ] && kill "$CHR" 2>/dev/null
  PULSE_SERVER="unix:$DIR/native" pactl exit 2>/dev/null || true
  if [ -n "${M2E_LOGS:-}" ]; then mkdir -p "$M2E_LOGS" && cp "$WORK"/*.log "$M2E_LOGS"/ 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start_probe_pulse "$DIR"

# Bursts: 20 ms of white noise at -10 dBFS, one every 1.0-1.3 s; and silence.
python3 - "$WORK" "$SECS" <<'PY'
import sys, wave, random, struct
work, secs = sys.argv[1], int(sys.argv[2])
random.seed(7)
rate = 48000
x = [0.0] * (rate * (secs + 2))
t = rate
while t < len(x) - rate:
    for i in range(960):
        x[t + i] = random.uniform(-0.55, 0.55)
    t += int(rate * random.uniform(1.0, 1.3))
for name, sig in (("bursts.wav", x), ("silence.wav", [0.0] * len(x))):
    w = wave.open(f"{work}/{name}", "wb")
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(b"".join(struct.pack("<h", int(v * 32767)) for v in sig))
PY

record() { # $1 = output file; records probe.monitor (left = mouth, right = ear)
  parecord -d probe.monitor --raw --format=float32le --rate=48000 --channels=2 "$1" &
  REC=$!
  REC_FILE="$1"
  date +%s.%N >"$1.wall"
}
# The wall-clock span of the recording, beside its sample count, shows whether the
# probe server's clock kept time over the round (a null sink's clock is a timer).
stop_record() { kill -INT "$REC"; wait "$REC" 2>/dev/null || true; REC=; date +%s.%N >>"$REC_FILE.wall"; }
measure() { # $1 = name: plays the bursts into the microphone while recording the probe
  record "$WORK/$1.raw"
  timeout "$((SECS + 10))" paplay -d inject "$WORK/bursts.wav" || echo "paplay did not finish" >&2
  sleep 1
  stop_record
}

start_server "$WORK"
cp benches/two-peers.html "$WORK/"
WPORT=$(free_port)
python3 -m http.server "$WPORT" --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
WEB=$!
sleep 0.5

ours() { # $1 = round
  echo "== round $1, ours: softphone -> server on loopback -> softphone"
  echo demo-password | "$BIN/softphone" --profile "$WORK/ben$1" answer --server "$URL" --user ben@demo.test \
    --input-wav "$WORK/silence.wav" --output pulseaudio:ear --media-addr 127.0.0.1:0 --wait 60 \
    >"$WORK/ben$1.log" 2>&1 &
  local ans=$!
  sleep 2
  echo demo-password | "$BIN/softphone" --profile "$WORK/ana$1" call "Ben Okafor" --server "$URL" \
    --user ana@demo.test --input pulseaudio:mouth --output-wav "$WORK/ana-heard.wav" \
    --seconds "$((SECS + 4))" --media-addr 127.0.0.1:0 >"$WORK/ana$1.log" 2>&1 &
  local call=$!
  sleep 2
  measure "ours-$1"
  wait "$call" || { echo "our call failed:" >&2; cat "$WORK/ana$1.log" >&2; exit 1; }
  wait "$ans" || true
  # With SOFTPHONE_LOG=softphone_call=debug: the callee's playout margin, jitter
  # buffer and speaker latency, and the caller's microphone latency.
  grep -h '"playout"\|playout ' "$WORK/ben$1.log" | tail -2 || true
  grep -h '"capture"\|capture ' "$WORK/ana$1.log" | grep device_latency | tail -1 || true
}

chromium() { # $1 = round
  echo "== round $1, Chromium: two RTCPeerConnections on loopback in one headless page"
  timeout "$((SECS + 12))" "$CHROMIUM" --headless=new --no-sandbox --use-fake-ui-for-media-stream \
    --autoplay-policy=no-user-gesture-required --user-data-dir="$WORK/chrome$1" \
    --enable-logging=stderr --v=0 "http://127.0.0.1:$WPORT/two-peers.html" >"$WORK/chrome$1.log" 2>&1 &
  CHR=$!
  sleep 6
  measure "chromium-$1"
  kill "$CHR" 2>/dev/null || true
  wait "$CHR" 2>/dev/null || true
  CHR=
  grep -i "console" "$WORK/chrome$1.log" | head -5 || true
}

# Rounds interleave both, so a spell of load on this VM (it reports steal time)
# falls on both sides alike.
for r in $(seq 1 "$ROUNDS"); do
  ours "$r"
  chromium "$r"
done

python3 - "$WORK" "$ROUNDS" <<'PY'
import sys
import numpy as np
work, rounds = sys.argv[1], int(sys.argv[2])
def onsets(x, thr=0.05, quiet=int(48000 * 0.3)):
    idx = np.flatnonzero(np.abs(x) > thr)
    out, last = [], -10**9
    for i in idx:
        if i - last > quiet:
            out.append(i)
        last = i
    return np.array(out)
def delays(path):
    s = np.fromfile(path, dtype="<f4").reshape(-1, 2)
    left, right = onsets(s[:, 0]), onsets(s[:, 1])
    d = []
    for t in left:
        later = right[(right > t) & (right < t + 48000 * 0.9)]
        if len(later):
            d.append((later[0] - t) / 48.0)
    return np.array(d), len(left)
def clock(path):
    """The probe's clock against the wall clock over a recording, %."""
    t0, t1 = (float(v) for v in open(path + ".wall").read().split())
    frames = np.fromfile(path, dtype="<f4").size / 2
    return 100.0 * frames / 48000.0 / (t1 - t0)
pooled = {}
for name in ("ours", "chromium"):
    alld = []
    for r in range(1, rounds + 1):
        path = f"{work}/{name}-{r}.raw"
        try:
            d, sent = delays(path)
            rate = clock(path)
        except (OSError, ValueError) as e:
            print(f"{name} round {r}: no recording ({e})")
            continue
        if len(d) == 0:
            print(f"{name} round {r}: no bursts came through ({sent} sent)")
            continue
        alld.extend(d)
        print(f"{name} round {r}: {len(d)}/{sent} bursts, mouth-to-ear ms p50 {np.percentile(d, 50):.1f} "
              f"p95 {np.percentile(d, 95):.1f} min {d.min():.1f} max {d.max():.1f}; "
              f"probe clock {rate:.1f} % of wall time")
    if alld:
        pooled[name] = np.array(alld)
for name, d in pooled.items():
    print(f"{name}: all {len(d)} bursts of {rounds} round(s): p50 {np.percentile(d, 50):.1f} "
          f"p95 {np.percentile(d, 95):.1f} ms")
if len(pooled) == 2:
    o, c = pooled["ours"], pooled["chromium"]
    print(f"ratio ours/chromium: p50 {np.percentile(o, 50) / np.percentile(c, 50):.2f} "
          f"p95 {np.percentile(o, 95) / np.percentile(c, 95):.2f}")
PY
