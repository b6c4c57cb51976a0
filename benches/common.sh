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
