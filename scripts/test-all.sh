#!/usr/bin/env bash
# Runs every check CI runs: rustfmt, clippy (warnings denied), all tests against real
# PulseAudio virtual devices, and the docs. Starts the services it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh rustup install (scripts/setup-debian.sh) is not on this shell's PATH yet.
command -v cargo >/dev/null || . "$HOME/.cargo/env"

# Private D-Bus + unlocked gnome-keyring, and a private PulseAudio with virtual devices.
SESSION_SCRIPT="$PWD/scripts/test-all.sh"
# shellcheck source=scripts/session-env.sh
source scripts/session-env.sh

echo "== rustfmt";  cargo fmt --all -- --check
echo "== clippy";   cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests";    cargo test --workspace --locked
echo "== docs";     RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== all checks passed"
