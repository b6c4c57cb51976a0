#!/usr/bin/env bash
# Starts a private PulseAudio server with virtual devices, no sound card needed:
#   speaker  - null sink (default output); record what the app plays from speaker.monitor
#   micfeed  - null sink you play speech into (paplay -d micfeed file.wav)
#   vmic     - source remapped from micfeed.monitor (default input, what the app captures)
# Usage: eval "$(tests/scripts/pulse-virtual.sh start)"   # exports PULSE_SERVER etc.
#        tests/scripts/pulse-virtual.sh stop
set -euo pipefail
DIR="${PULSE_VIRTUAL_DIR:-${TMPDIR:-/tmp}/softphone-pulse}"
case "${1:-start}" in
start)
  mkdir -p "$DIR/runtime" "$DIR/state"
  cat > "$DIR/default.pa" <<PA
load-module module-native-protocol-unix auth-anonymous=1 socket=$DIR/native
load-module module-null-sink sink_name=speaker rate=48000 sink_properties=device.description=Virtual_Speaker
load-module module-null-sink sink_name=micfeed rate=48000 sink_properties=device.description=Virtual_Mic_Feed
load-module module-remap-source master=micfeed.monitor source_name=vmic rate=48000 source_properties=device.description=Virtual_Microphone
set-default-sink speaker
set-default-source vmic
PA
  # Real-time where allowed (as on a desktop, through rtkit): the call tests' audio
  # threads run SCHED_FIFO and must not starve the server that feeds them.
  if ! PULSE_SERVER="unix:$DIR/native" pactl info >/dev/null 2>&1; then
    # Off the session bus: a second private server would find org.PulseAudio1 taken.
    XDG_RUNTIME_DIR="$DIR/runtime" PULSE_STATE_PATH="$DIR/state" \
      env -u DBUS_SESSION_BUS_ADDRESS pulseaudio -n -F "$DIR/default.pa" --daemonize=yes --exit-idle-time=-1 \
      --realtime=yes --high-priority=yes \
      --log-target="file:$DIR/pulse.log" --disallow-exit=yes >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do
      PULSE_SERVER="unix:$DIR/native" pactl info >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  PULSE_SERVER="unix:$DIR/native" pactl info >/dev/null || { cat "$DIR/pulse.log" >&2; exit 1; }
  # An idle null sink renders in 2 s blocks, and a stream opened on it or on its
  # monitor gets going only when the current block ends: the virtual microphone and
  # speaker took 0-2 s to start, where a sound card takes a period. A reader asking
  # for 10 ms on each monitor keeps both rendering in 10 ms blocks.
  started=""
  for sink in micfeed speaker; do
    pidfile="$DIR/$sink-reader.pid"
    if [ ! -s "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      PULSE_SERVER="unix:$DIR/native" setsid parecord -d "$sink.monitor" --raw --latency-msec=10 \
        /dev/null </dev/null >/dev/null 2>&1 &
      echo $! > "$pidfile"
      started=1
    fi
  done
  # The blocks that were rendering when the readers came still run their 2 s.
  [ -z "$started" ] || sleep 2.1
  echo "export PULSE_SERVER=unix:$DIR/native"
  ;;
stop)
  for sink in micfeed speaker; do
    [ -s "$DIR/$sink-reader.pid" ] && kill "$(cat "$DIR/$sink-reader.pid")" 2>/dev/null || true
    rm -f "$DIR/$sink-reader.pid"
  done
  PULSE_SERVER="unix:$DIR/native" pactl exit 2>/dev/null || pkill -f "pulseaudio -n -F $DIR/default.pa" || true
  ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
