#!/usr/bin/env bash
# The headless end-to-end scenario (crates/scenario): a demo server, the agent through
# softphone-controller, a prospect in headless Chromium, 20 s of real speech both ways
# through PulseAudio virtual devices, mute, hang-up, a two-track recording, two notes
# written while the server is down, sync after it comes back, and the recording
# downloaded through a signed URL. Exits 0 only when every step was verified.
# Arguments go to `softphone-scenario` (e.g. --seconds 30 --keep --json).
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh rustup install (scripts/setup-debian.sh) is not on this shell's PATH yet.
command -v cargo >/dev/null || . "$HOME/.cargo/env"
SESSION_SCRIPT="$PWD/scripts/scenario.sh"
# shellcheck source=scripts/session-env.sh
source scripts/session-env.sh
cargo run --quiet --locked -p softphone-scenario -- "$@"
