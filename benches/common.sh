# Shared by the call benchmarks (sourced, not run).

# Builds the CLI and the server in $PROFILE (debug: dependencies and the audio path
# are at opt-level 2; release) and sets BIN to their folder.
build_bins() {
  PROFILE="${PROFILE:-debug}"
  local target="${CARGO_TARGET_DIR:-target}"
  if [ "$PROFILE" = release ]; then
    cargo build --release -q -p softphone-cli -p softphone-server
  else
    cargo build -q -p softphone-cli -p softphone-server
  fi
  BIN="$target/$PROFILE"
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts the server with demo data in $1/server and waits for it; sets SRV (pid) and URL.
start_server() {
  local port
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  SOFTPHONE_MEDIA_UDP_ADDRS='["127.0.0.1:0"]' "$BIN/softphone-server" --data-dir "$1/server" \
    serve --demo --listen "127.0.0.1:$port" >"$1/server.log" 2>&1 &
  SRV=$!
  for _ in $(seq 1 100); do curl -sf "$URL/api/v1/health" >/dev/null && break; sleep 0.1; done
}

# A private PulseAudio in $1 with one stereo null sink `probe`: its left channel is a
# microphone (`inject` plays into it, the source `mouth` reads it back), its right
# channel a speaker (`ear`). One recording of probe.monitor then holds what went into
# the microphone and what came out of the speaker on one clock. Exports PULSE_SERVER.
# Device descriptions start with Probe_ (benches/two-peers.html looks for them).
start_probe_pulse() {
  local dir="$1"
  mkdir -p "$dir/runtime" "$dir/state"
  cat >"$dir/default.pa" <<PA
load-module module-native-protocol-unix auth-anonymous=1 socket=$dir/native
load-module module-null-sink sink_name=probe rate=48000 channels=2 channel_map=front-left,front-right sink_properties=device.description=Probe
load-module module-remap-sink sink_name=inject master=probe channels=1 channel_map=mono master_channel_map=front-left remix=no sink_properties=device.description=Probe_Inject
load-module module-remap-sink sink_name=ear master=probe channels=1 channel_map=mono master_channel_map=front-right remix=no sink_properties=device.description=Probe_Ear
load-module module-remap-source source_name=mouth master=probe.monitor channels=1 channel_map=mono master_channel_map=front-left remix=no source_properties=device.description=Probe_Mouth
PA
  XDG_RUNTIME_DIR="$dir/runtime" PULSE_STATE_PATH="$dir/state" env -u DBUS_SESSION_BUS_ADDRESS \
    pulseaudio -n -F "$dir/default.pa" --daemonize=yes --exit-idle-time=-1 --log-target="file:$dir/log" >/dev/null 2>&1
  export PULSE_SERVER="unix:$dir/native"
  for _ in $(seq 1 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  # An idle null sink renders 2 s blocks: a stream opened on it (or its monitor) gets
  # going only when the current block ends, and a source on its monitor delivers in
  # bursts. A reader at 10 ms keeps the probe at 10 ms blocks throughout, as
  # tests/scripts/pulse-virtual.sh does for the test devices. It ends with the server.
  parecord -d probe.monitor --raw --latency-msec=10 >/dev/null 2>&1 &
  sleep 2.1
}
