#!/usr/bin/env bash
# The desktop app's start-up, PSS and CPU (idle, in a call, over CALLS echo calls) next
# to Chromium on the browser call page: release build, real app under Xvfb, private
# D-Bus/keyring and PulseAudio. Usage: [CALLS=100] bash benches/app-footprint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || . "$HOME/.cargo/env"
SESSION_SCRIPT="$PWD/benches/app-footprint.sh"
# shellcheck source=scripts/session-env.sh
source scripts/session-env.sh
cargo bench --locked -p agent-softphone --bench app_footprint
