#!/usr/bin/env bash
# WB-PESQ of received speech under the same impaired network, ours against Chromium's.
#
# Both directions of each call cross a user-space relay with 40 ms each way and random
# RTP loss, exactly N per 100 packets (this kernel has no netem). The speech is the
# call tests' 17 s talker (alsa-utils' voices, two orders), at 40 kbit/s Opus with
# in-band FEC on both sides.
#  - ours: the calls test `impaired_network_...` (two engines through the real server,
#    crates/cli/tests/common/relay.rs), which prints the WB-PESQ of what the callee
#    decoded.
#  - Chromium: one headless page, two RTCPeerConnections whose ICE candidates are
#    rewritten to benches/relay.py (the same relay semantics); the caller captures a
#    virtual microphone that the talker is played into, the callee plays to a virtual
#    speaker; both are recorded on one clock (left = microphone, right = speaker) and
#    the speaker's speech is scored against the microphone's.
# Usage: [ROUNDS=3] benches/pesq-vs-chromium.sh [LOSSES]   (default "0 5 10")
# ROUNDS interleaves both products per round (this VM's load drifts) and reports the
# median and range of each.
set -euo pipefail
cd "$(dirname "$0")/.."
LOSSES="${1:-0 5 10}"
ROUNDS="${ROUNDS:-1}"
. benches/common.sh
CHROMIUM="$(command -v chromium || command -v chromium-browser)"
WORK="$(mktemp -d)"
DIR="$WORK/pulse"
cleanup() {
  [ -n "${REC:-}" ] && kill "$REC" 2>/dev/null
  [ -n "${WEB:-}" ] && kill "$WEB" 2>/dev/null
  [ -n "${CHR:-}" ] && kill "$CHR" 2>/dev/null
  PULSE_SERVER="unix:$DIR/native" pactl exit 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

sox /usr/share/sounds/alsa/{Front_Center,Front_Left,Front_Right,Rear_Center,Rear_Left,Rear_Right,Side_Left,Side_Right,Rear_Right,Rear_Left,Front_Right,Front_Center}.wav \
  -r 48000 -c 1 -b 16 "$WORK/talker.wav"

declare -A OURS CHROME

ours() { # $1 = loss %, $2 = round
  local log="$WORK/ours-$1-$2.log" score
  SOFTPHONE_TEST_LOSS=$1 bash scripts/test-all.sh -p softphone-cli --test calls impaired \
    -- --nocapture >"$log" 2>&1 || true
  score=$(grep -o 'WB-PESQ at [0-9]* % loss with [A-Za-z ]*: [0-9.]*' "$log" | awk '{print $NF}')
  grep -h "measured loss" "$log" | cut -c1-160 || true
  echo "ours at $1 %, round $2: ${score:-failed}"
  OURS[$1]="${OURS[$1]:-} ${score:-}"
}

chromium() { # $1 = loss %, $2 = round
  local loss=$1 tag="$1-$2" score
  WPORT=$(free_port)
  python3 benches/relay.py "$loss" 40 "$WORK" "$WPORT" &
  WEB=$!
  sleep 0.5
  timeout "$((SECS + 20))" "$CHROMIUM" --headless=new --no-sandbox --use-fake-ui-for-media-stream \
    --autoplay-policy=no-user-gesture-required --user-data-dir="$WORK/chrome-$tag" \
    --enable-logging=stderr --v=0 "http://127.0.0.1:$WPORT/two-peers.html?relay=1&bitrate=40000" \
    >"$WORK/chrome-$tag.log" 2>&1 &
  CHR=$!
  sleep 6
  parecord -d probe.monitor --raw --format=float32le --rate=48000 --channels=2 "$WORK/chromium-$tag.raw" &
  REC=$!
  timeout "$((SECS + 10))" paplay -d inject "$WORK/talker.wav" || echo "paplay did not finish" >&2
  sleep 1.5
  kill -INT "$REC"; wait "$REC" 2>/dev/null || true; REC=
  echo "relay counters: $(curl -s "http://127.0.0.1:$WPORT/counters")"
  kill "$CHR" 2>/dev/null || true; wait "$CHR" 2>/dev/null || true; CHR=
  kill "$WEB" 2>/dev/null || true; wait "$WEB" 2>/dev/null || true; WEB=
  grep -i "console" "$WORK/chrome-$tag.log" | grep -v playing | head -3 || true
  # Cut the microphone's speech (the reference) and the speaker's copy of it, aligned.
  python3 - "$WORK" "$tag" <<'PY'
import sys, wave
import numpy as np
work, tag = sys.argv[1], sys.argv[2]
s = np.fromfile(f"{work}/chromium-{tag}.raw", dtype="<f4").reshape(-1, 2)
with wave.open(f"{work}/talker.wav") as w:
    n = w.getnframes()
mic, ear = s[:, 0], s[:, 1]
start = max(0, int(np.flatnonzero(np.abs(mic) > 0.01)[0]) - 2400)
ref = mic[start:start + n]
hay = ear[start:start + n + 48000]
size = 1 << int(np.ceil(np.log2(len(hay) + len(ref))))
xc = np.fft.irfft(np.fft.rfft(hay, size) * np.conj(np.fft.rfft(ref, size)), size)
lag = int(np.argmax(xc[:len(hay)]))
deg = ear[start + lag:start + lag + len(ref)]
print(f"chromium {tag}: speaker {lag / 48:.0f} ms after the microphone")
for name, x in (("ref", ref), ("deg", deg)):
    with wave.open(f"{work}/chromium-{tag}-{name}.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(48000)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
PY
  score=$(python3 tests/scripts/pesq_score.py "$WORK/chromium-$tag-ref.wav" "$WORK/chromium-$tag-deg.wav")
  echo "chromium at $loss %, round $2: $score"
  CHROME[$loss]="${CHROME[$loss]:-} $score"
}

start_probe_pulse "$DIR"
cp benches/two-peers.html "$WORK/"
SECS=$(python3 -c "import wave; w=wave.open('$WORK/talker.wav'); print(int(w.getnframes()/w.getframerate())+1)")
for round in $(seq 1 "$ROUNDS"); do
  for loss in $LOSSES; do
    echo "== round $round, $loss % loss: ours (the calls test), then Chromium (benches/relay.py)"
    ours "$loss" "$round"
    chromium "$loss" "$round"
  done
done

# Median [min-max] of the scores in $1.
summary() {
  python3 -c "import sys, statistics as s; v=[float(x) for x in sys.argv[1:]]; print(f'{s.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]' if v else 'failed')" $1
}
echo
echo "$ROUNDS round(s), median [range]:"
echo "| loss | ours WB-PESQ | Chromium WB-PESQ |"
echo "| --- | --- | --- |"
for loss in $LOSSES; do
  echo "| $loss % | $(summary "${OURS[$loss]:-}") | $(summary "${CHROME[$loss]:-}") |"
done
