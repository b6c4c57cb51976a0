#!/usr/bin/env bash
# README "run" command: builds, starts the backend with its embedded default (SQLite and
# a local recordings folder, demo data) on 127.0.0.1:8787, signs the demo agent in (token
# in the OS keyring) and opens the desktop app. Without a display it says so and runs
# the headless scenario (scripts/scenario.sh) instead.
# Environment: SOFTPHONE_DEMO_DIR (default ~/.local/share/agent-softphone-demo),
# SOFTPHONE_DEMO_PORT (default 8787).
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh rustup install (scripts/setup-debian.sh) is not on this shell's PATH yet.
command -v cargo >/dev/null || . "$HOME/.cargo/env"

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display (DISPLAY and WAYLAND_DISPLAY are unset): running the headless scenario instead of the desktop app."
  exec bash scripts/scenario.sh
fi

DEMO="${SOFTPHONE_DEMO_DIR:-$HOME/.local/share/agent-softphone-demo}"
PORT="${SOFTPHONE_DEMO_PORT:-8787}"
URL="http://127.0.0.1:$PORT"
if curl -fsS "$URL/api/v1/health" >/dev/null 2>&1; then
  echo "Something already answers on $URL: stop it or set SOFTPHONE_DEMO_PORT." >&2
  exit 1
fi
cargo build --locked -p softphone-server -p softphone-cli -p agent-softphone
BIN="${CARGO_TARGET_DIR:-target}/debug"
mkdir -p "$DEMO"
"$BIN/softphone-server" --data-dir "$DEMO/server" serve --demo --listen "127.0.0.1:$PORT" \
  >"$DEMO/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$URL/api/v1/health" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { cat "$DEMO/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "backend on $URL (data in $DEMO/server, log $DEMO/server.log)"

export SOFTPHONE_PROFILE="$DEMO/profile"
if ! echo demo-password | "$BIN/softphone" login --server "$URL" --email ana@demo.test; then
  echo "Sign-in failed: the token is kept in the OS keyring (Secret Service); is gnome-keyring (or KWallet) running and unlocked?" >&2
  exit 1
fi
"$BIN/softphone" sync --once
echo "opening the desktop app as Ana García (ana@demo.test); close the window to stop"
"$BIN/agent-softphone"
