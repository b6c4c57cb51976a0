#!/usr/bin/env bash
# Call benchmarks, side by side in one run (ratios hold on noisy machines).
#  1. Call setup on loopback: dial to media connected (`setup_ms` of the call report),
#     N calls to the server's echo test.
#  2. CPU of the caller's whole native path for a SECONDS-long call between two agents on
#     loopback (WAV in, WAV out, 1 s quality samples), with our dual-track Opus
#     recording and without it, as % of one core, against a baresip (Debian package)
#     loopback call between two baresip instances (aufile source, Opus 32 kbit/s mono
#     with in-band FEC, its sndfile module writing the call to WAV), measured the same
#     way (user+sys CPU of the caller process / wall time), in ROUNDS interleaved
#     rounds (default 3), medians.
#     DEVICES=1: the callers use sound devices instead of WAV files, the way an agent
#     does: a private PulseAudio with virtual devices (tests/scripts/pulse-virtual.sh),
#     speech looped into the virtual microphone; ours through cpal, baresip through its
#     alsa module and the PulseAudio ALSA plugin (Debian 12's baresip has no pulse
#     module). The callees keep their WAV files.
# Usage: [ROUNDS=3] [DEVICES=1] [ALT_COMPLEXITY=C] benches/calls-vs-baresip.sh [N] [SECONDS]
# ALT_COMPLEXITY adds a contestant: ours with recording, the send encoder at libopus
# complexity C (SOFTPHONE_OPUS_COMPLEXITY).
# BASE_BIN=DIR adds a contestant: ours with recording, both agents run by DIR/softphone
# (an earlier build, for a before/after in the same run).
#   Uses the binaries in $CARGO_TARGET_DIR/debug (dependencies and the audio path are
#   built with opt-level 2 in dev builds); set PROFILE=release for release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10}"
SECS="${2:-20}"
. benches/common.sh
build_bins
command -v baresip >/dev/null || { echo "baresip missing: apt-get install baresip-core" >&2; exit 1; }
WORK="$(mktemp -d)"
cleanup() { pkill -f "baresip -f $WORK" 2>/dev/null || true; [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

sox /usr/share/sounds/alsa/Front_*.wav /usr/share/sounds/alsa/Rear_*.wav -r 48000 -c 1 -b 16 "$WORK/voices.wav"
sox "$WORK/voices.wav" "$WORK/speech.wav" repeat 5

start_server "$WORK"

DEVICES="${DEVICES:-}"
if [ -n "$DEVICES" ]; then
  export PULSE_VIRTUAL_DIR="$WORK/pulse"
  eval "$(tests/scripts/pulse-virtual.sh start)"
  ( while :; do paplay -d micfeed "$WORK/voices.wav" || exit; done ) &
  FEED=$!
  cleanup_devices() { kill "$FEED" 2>/dev/null || true; tests/scripts/pulse-virtual.sh stop; }
  trap 'cleanup_devices; cleanup' EXIT
  OURS_AUDIO=""
  BARESIP_SOURCE="alsa,pulse"
  BARESIP_PLAYER="alsa,pulse"
else
  OURS_AUDIO="--input-wav $WORK/speech.wav --output-wav $WORK/ana-heard.wav"
  BARESIP_SOURCE="aufile,$WORK/speech.wav"
  BARESIP_PLAYER="aufile,$WORK/a/heard.wav"
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95+0.999); if(i<1)i=1; print a[i]}'; }

echo "== 1. call setup, dial to media connected, $N echo calls on loopback"
: >"$WORK/setup"
for i in $(seq 1 "$N"); do
  echo demo-password | "$BIN/softphone" --profile "$WORK/p$i" call echo --server "$URL" --user ana@demo.test \
    --input-wav "$WORK/voices.wav" --output-wav "$WORK/echo$i.wav" --seconds 1 --stats-json \
    --media-addr 127.0.0.1:0 | python3 -c 'import sys,json
for l in sys.stdin:
    e=json.loads(l)
    if e.get("event")=="report": print(e["report"]["setup_ms"])' >>"$WORK/setup"
done
echo "setup ms: p50 $(median <"$WORK/setup")  p95 $(p95 <"$WORK/setup")  (n=$(wc -l <"$WORK/setup"))"

ROUNDS="${ROUNDS:-3}"
echo "== 2. CPU of the caller, ${SECS} s call between two agents on loopback, $ROUNDS rounds${DEVICES:+, the callers on sound devices}"
cpu() { awk '{printf "%.2f", ($1+$2)/$3*100}' "$1"; }

# $1 = label, $2 = extra caller arguments; appends the caller's CPU % to $WORK/$1.cpu
ours() {
  rm -rf "$WORK/ben" "$WORK/ana" "$WORK/call.opus"
  local bin="${OURS_BIN:-$BIN}"
  echo demo-password | env ${OURS_ENV:-} "$bin/softphone" --profile "$WORK/ben" answer --server "$URL" --user ben@demo.test \
    --input-wav "$WORK/speech.wav" --output-wav "$WORK/ben-heard.wav" --media-addr 127.0.0.1:0 --wait 60 \
    >"$WORK/ben.log" 2>&1 &
  local ans=$!
  sleep 2
  # shellcheck disable=SC2086
  echo demo-password | /usr/bin/time -f "%U %S %e" -o "$WORK/$1.time" env ${OURS_ENV:-} "$bin/softphone" --profile "$WORK/ana" \
    call "Ben Okafor" --server "$URL" --user ana@demo.test $OURS_AUDIO \
    $2 --seconds "$SECS" --media-addr 127.0.0.1:0 >"$WORK/ana.log"
  wait "$ans" || true
  cpu "$WORK/$1.time" >>"$WORK/$1.cpu"; echo >>"$WORK/$1.cpu"
  echo "$1: $(cat "$WORK/$1.time") (user sys wall s) = $(tail -1 "$WORK/$1.cpu") % of one core"
}

for who in a b; do
  port=$([ $who = a ] && echo 5071 || echo 5081)
  mkdir -p "$WORK/$who"
  if [ $who = a ]; then src="$BARESIP_SOURCE" player="$BARESIP_PLAYER"
  else src="aufile,$WORK/speech.wav" player="aufile,$WORK/b/heard.wav"; fi
  cat >"$WORK/$who/config" <<EOF
poll_method epoll
sip_listen 127.0.0.1:$port
audio_source $src
audio_player $player
audio_alert aufile,$WORK/$who/alert.wav
module_path /usr/lib/baresip/modules
module opus.so
module aufile.so
$([ $who = a ] && [ -n "$DEVICES" ] && echo "module alsa.so")
module sndfile.so
module_app account.so
module_app menu.so
opus_bitrate 32000
opus_stereo no
opus_sprop_stereo no
opus_inbandfec yes
snd_path $WORK/$who
EOF
  echo "<sip:$who@127.0.0.1:$port>;regint=0;answermode=auto;audio_codecs=opus/48000/2" >"$WORK/$who/accounts"
  touch "$WORK/$who/contacts"
done

# Interleaved rounds: a machine that slows down mid-run slows every contestant alike.
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  ours ours-recording "--record $WORK/call.opus"
  ours ours-no-recording ""
  if [ -n "${ALT_COMPLEXITY:-}" ]; then
    OURS_ENV="SOFTPHONE_OPUS_COMPLEXITY=$ALT_COMPLEXITY" ours "ours-recording-c$ALT_COMPLEXITY" "--record $WORK/call.opus"
  fi
  if [ -n "${BASE_BIN:-}" ]; then
    OURS_BIN="$BASE_BIN" ours base-recording "--record $WORK/call.opus"
  fi
  (cd "$WORK/b" && timeout $((SECS + 20)) baresip -f "$WORK/b" -t $((SECS + 15)) </dev/null >"$WORK/b.log" 2>&1 &)
  sleep 1
  (cd "$WORK/a" && /usr/bin/time -f "%U %S %e" -o "$WORK/baresip.time" timeout $((SECS + 20)) \
    baresip -f "$WORK/a" -t "$SECS" -e "/dial sip:b@127.0.0.1:5081" </dev/null >"$WORK/a.log" 2>&1) || true
  grep -q "Call established" "$WORK/a.log" || { echo "baresip call failed:"; tail -20 "$WORK/a.log"; exit 1; }
  cpu "$WORK/baresip.time" >>"$WORK/baresip.cpu"; echo >>"$WORK/baresip.cpu"
  echo "baresip: $(cat "$WORK/baresip.time") (user sys wall s) = $(tail -1 "$WORK/baresip.cpu") % of one core"
done
R=$(median <"$WORK/ours-recording.cpu"); N=$(median <"$WORK/ours-no-recording.cpu"); B=$(median <"$WORK/baresip.cpu")
echo "median % of one core: ours with dual-track recording $R, ours without $N, baresip (WAV recording) $B"
echo "ratio ours/baresip: with recording $(echo "scale=2; $R / $B" | bc), without $(echo "scale=2; $N / $B" | bc)"
if [ -n "${ALT_COMPLEXITY:-}" ]; then
  C=$(median <"$WORK/ours-recording-c$ALT_COMPLEXITY.cpu")
  echo "send encoder at complexity $ALT_COMPLEXITY, with recording: $C % ($(echo "scale=2; $C / $B" | bc) of baresip)"
fi
if [ -n "${BASE_BIN:-}" ]; then
  E=$(median <"$WORK/base-recording.cpu")
  echo "$BASE_BIN/softphone, with recording: $E % ($(echo "scale=2; $E / $B" | bc) of baresip; now/base $(echo "scale=2; $R / $E" | bc))"
fi
