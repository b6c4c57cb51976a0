#!/usr/bin/env bash
# Recorder benchmarks, side by side in one run (ratios hold on noisy machines).
#  1. Encode throughput: `softphone record` vs `opusenc` on the same 10-minute speech
#     WAV, same bitrate per channel (32 kbit/s) and complexity (10), median of N runs.
#  2. Live CPU: capture from the PulseAudio virtual mic + meter + dual-track recording
#     (`softphone record`) vs the anchor `parec | opusenc` doing capture + encode, as %
#     of one core over the same wall time.
# Usage: benches/recorder-vs-opusenc.sh [RUNS] [LIVE_SECONDS]   (needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
LIVE="${2:-30}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p softphone-cli
BIN="$TARGET/release/softphone"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# 10 minutes of real speech: the alsa-utils voices and espeak-ng, looped.
espeak-ng -w "$WORK/e.wav" "Good morning, this is Alice from Agent Softphone. I am calling about your order from last week."
sox "$WORK/e.wav" -r 48000 -c 1 -b 16 "$WORK/e48.wav"
sox /usr/share/sounds/alsa/Front_Center.wav /usr/share/sounds/alsa/Front_Left.wav \
    /usr/share/sounds/alsa/Rear_Right.wav "$WORK/e48.wav" -r 48000 -c 1 -b 16 "$WORK/loop.wav"
sox "$WORK/loop.wav" "$WORK/speech.wav" repeat 80 trim 0 600
DUR=$(soxi -D "$WORK/speech.wav")

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cpu_of() { # prints user+sys seconds of a command
  /usr/bin/time -f "%U %S" -o "$WORK/t" "$@" >/dev/null 2>&1
  tail -1 "$WORK/t" | awk '{print $1+$2}'
}
ours=(); theirs=(); ours2=()
for i in $(seq 1 "$RUNS"); do
  rm -f "$WORK"/o*.opus
  theirs+=("$(cpu_of opusenc --quiet --bitrate 32 --comp 10 "$WORK/speech.wav" "$WORK/o1.opus")")
  ours+=("$(cpu_of "$BIN" record --bitrate 32000 --input-wav "$WORK/speech.wav" --out "$WORK/o2.opus")")
  ours2+=("$(cpu_of "$BIN" record --bitrate 32000 --input-wav "$WORK/speech.wav" --remote-wav "$WORK/speech.wav" --out "$WORK/o3.opus")")
done
T=$(printf '%s\n' "${theirs[@]}" | median)
O=$(printf '%s\n' "${ours[@]}" | median)
O2=$(printf '%s\n' "${ours2[@]}" | median)
echo "input: ${DUR} s of speech, 48 kHz mono; ${RUNS} runs, median CPU seconds (user+sys)"
printf "%-58s %8s %10s %8s\n" "encoder" "cpu s" "x realtime" "bytes"
printf "%-58s %8.3f %10.0f %8d\n" "opusenc 32 kbit/s mono, comp 10" "$T" "$(echo "$DUR/$T" | bc -l)" "$(stat -c %s "$WORK/o1.opus")"
printf "%-58s %8.3f %10.0f %8d\n" "softphone record: speech left, silent right (2 streams)" "$O" "$(echo "$DUR/$O" | bc -l)" "$(stat -c %s "$WORK/o2.opus")"
printf "%-58s %8.3f %10.0f %8d\n" "softphone record: speech on both tracks (2x the audio)" "$O2" "$(echo "$DUR/$O2" | bc -l)" "$(stat -c %s "$WORK/o3.opus")"
printf "throughput ratio ours/opusenc (same audio, one talker): %.2f\n" "$(echo "$T/$O" | bc -l)"
printf "throughput ratio per encoded channel, both tracks busy: %.2f\n" "$(echo "2*$T/$O2" | bc -l)"

# Live CPU, needs the PulseAudio virtual devices. Steady state: CPU ticks from /proc over
# LIVE seconds, after a 2 s warm-up, for every process of each pipeline.
eval "$(tests/scripts/pulse-virtual.sh start)"
HZ=$(getconf CLK_TCK)
ticks() { local t=0 f; for p in "$@"; do read -r -a f < "/proc/$p/stat"; t=$((t + f[13] + f[14])); done; echo "$t"; }
window_pct() { # PIDs...: % of one core used over LIVE seconds
  sleep 2; local a b; a=$(ticks "$@"); sleep "$LIVE"; b=$(ticks "$@")
  echo "100*($b-$a)/($HZ*$LIVE)" | bc -l
}
( for _ in $(seq 1 $((LIVE / 4 + 4))); do paplay -d micfeed "$WORK/loop.wav"; done ) &
FEED=$!
sleep 0.5
# Anchor: capture + encode, the same two jobs as ours minus the meter.
mkfifo "$WORK/pipe"
parec -d vmic --rate=48000 --channels=1 --format=s16le --raw > "$WORK/pipe" &
P1=$!
opusenc --quiet --raw --raw-rate 48000 --raw-chan 1 --bitrate 32 --comp 10 "$WORK/pipe" "$WORK/anchor.opus" &
P2=$!
A=$(window_pct $P1 $P2)
kill -INT $P1 2>/dev/null || true; wait $P2 2>/dev/null || true
"$BIN" record --out "$WORK/live.opus" >/dev/null &
P3=$!
B=$(window_pct $P3)
kill -INT $P3; wait $P3 || true
"$BIN" meter >/dev/null &
P4=$!
C=$(window_pct $P4)
kill -INT $P4; wait $P4 || true
kill $FEED 2>/dev/null || true
printf "live %s s, %% of one core: anchor parec|opusenc (1 stream) %.2f; softphone meter only %.2f; softphone record (capture+meter+2 streams) %.2f; record/anchor %.2f\n" \
  "$LIVE" "$A" "$C" "$B" "$(echo "$B/$A" | bc -l)"
