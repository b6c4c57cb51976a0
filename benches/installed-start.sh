#!/usr/bin/env bash
# Cold start to a usable window of the *installed* app: the .deb that
# scripts/check-packages.sh built, unpacked into a scratch root, started 5 times signed
# out under Xvfb; prints each spawn -> `window usable` time (ms, the first screen drawn
# and usable, logged by the app) and the median. Run scripts/check-packages.sh first.
# Usage: bash benches/installed-start.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
deb="$(echo "$target"/release/bundle/deb/*.deb)"
[ -f "$deb" ] || { echo "no .deb: run scripts/check-packages.sh first" >&2; exit 1; }
root="$(mktemp -d -t softphone-start.XXXXXX)"
Xvfb :97 -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
# One private session bus for all starts (the app's single-instance lock and the
# accessibility bus live there); killed with Xvfb at the end.
eval "$(dbus-launch --sh-syntax)"
trap 'kill $xvfb "$DBUS_SESSION_BUS_PID" 2>/dev/null; rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root/pkg"
sleep 1
times=()
for i in 1 2 3 4 5; do
  t0=$(date +%s%N)
  # Each start gets a fresh profile, log folder and stderr file: nothing is warm but
  # the OS page cache, as for an agent starting the app a second time in a day.
  mkdir -p "$root/run$i"
  DISPLAY=:97 SOFTPHONE_PROFILE="$root/run$i/profile" SOFTPHONE_LOG_DIR="$root/run$i/logs" \
    RUST_LOG=agent_softphone_lib=info "$root/pkg/usr/bin/agent-softphone" \
    >/dev/null 2>"$root/run$i/stderr" </dev/null &
  pid=$!
  while ! grep -q "window usable" "$root/run$i/stderr" 2>/dev/null; do
    sleep 0.01
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 60000 ] || { echo "no window after 60 s" >&2; exit 1; }
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  times+=("$ms")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "start $i: $ms ms"
done
printf '%s\n' "${times[@]}" | sort -n | sed -n 3p | xargs echo "median of 5 (ms):"
