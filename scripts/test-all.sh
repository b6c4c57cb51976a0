#!/usr/bin/env bash
# Runs every check CI runs: rustfmt, clippy (warnings denied), all tests against real
# PulseAudio virtual devices, and the docs. Starts the services it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# The credential tests use the real OS keyring: run everything inside a private D-Bus
# session with gnome-keyring's Secret Service unlocked (and a private XDG_DATA_HOME, so
# the throwaway keyring never touches the user's). SOFTPHONE_SKIP_KEYRING_TESTS=1 skips
# those tests instead.
if [ -z "${SOFTPHONE_KEYRING_SESSION:-}" ] && [ "${SOFTPHONE_SKIP_KEYRING_TESTS:-}" != 1 ]; then
  XDG_DATA_HOME="$(mktemp -d -t softphone-xdg.XXXXXX)"
  export XDG_DATA_HOME SOFTPHONE_KEYRING_SESSION=1
  exec dbus-run-session -- bash "$PWD/scripts/test-all.sh" "$@"
fi
if [ -n "${SOFTPHONE_KEYRING_SESSION:-}" ]; then
  printf %s softphone-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
fi

# A private PulseAudio per run, so concurrent runs never share (or stop) devices.
PULSE_VIRTUAL_DIR="$(mktemp -d -t softphone-pulse.XXXXXX)"
export PULSE_VIRTUAL_DIR
eval "$(tests/scripts/pulse-virtual.sh start)"
trap 'tests/scripts/pulse-virtual.sh stop; rm -rf "$PULSE_VIRTUAL_DIR"' EXIT

echo "== rustfmt";  cargo fmt --all -- --check
echo "== clippy";   cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests";    cargo test --workspace --locked
echo "== docs";     RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== all checks passed"
