#!/usr/bin/env bash
# Runs every check CI runs: rustfmt, clippy (warnings denied), all tests against real
# PulseAudio virtual devices, and the docs. Starts the services it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

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
