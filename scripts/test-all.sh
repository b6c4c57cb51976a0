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

# With arguments, only `cargo test ARGS` runs in that environment, e.g.
# `bash scripts/test-all.sh -p agent-softphone --test e2e`.
if [ "$#" -gt 0 ]; then
  cargo test --locked "$@"
  exit
fi

echo "== front-end unit tests (node --test)"; node --test ui/tests/
# ui/bindings.d.ts is generated from the Rust types; a stale copy fails the cargo tests.
echo "== front-end types (tsc over the generated bindings)"; node_modules/.bin/tsc -p ui
echo "== rustfmt";  cargo fmt --all -- --check
echo "== clippy";   cargo clippy --workspace --all-targets --locked -- -D warnings
# A workspace build unifies features, so a crate that uses an optional dependency
# without its feature still builds there; the server builds softphone-call without
# `engine` and must compile on its own.
echo "== the server on its own"; cargo check --locked -p softphone-server
echo "== tests"
# The real-time device tests (crates/cli/tests/devices.rs, call_devices.rs) judge speech
# through PulseAudio's virtual devices, whose monitor chain sometimes loses blocks on a
# loaded 2-core machine with no underrun on our side (docs/benchmarks.md, issue notes).
# The end-to-end scenario (crates/scenario) judges the agent's speaker the same way; in
# one CI run under heavy VM load (session 12) all three failed on played speech alone and
# all passed on a quiet machine. The loopback call tests (crates/cli/tests/calls.rs)
# judge heard speech second by second too; in session 13's first CI run on a fresh
# machine, under the cold build's load, alice heard bob garbled (median 1 s chunk 0.17)
# with nothing lost or concealed on her side, and passed three reruns on a quiet machine;
# the test now prints both sides' reports to find the cause. The TLS and TURN call tests
# (crates/cli/tests/tls_calls.rs, turn_calls.rs) judge heard speech the same way. Those six binaries,
# and only they, get one more run when they fail; it is logged as FLAKY so it stays visible.
# Any other failure, or a second failure, fails the run.
LOG="$(mktemp -t softphone-tests.XXXXXX)"
set +e
# Not `cargo test | tee`: a test that fails while a child it spawned still runs (a
# parecord, a server) leaves that child holding the pipe, and tee would wait for it
# forever. tail follows the log only as long as cargo runs.
cargo test --workspace --locked --no-fail-fast >"$LOG" 2>&1 &
cargo_pid=$!
tail -n +1 -f --pid="$cargo_pid" "$LOG"
wait "$cargo_pid"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  # cargo names each failed target as `-p PACKAGE --test NAME` (or --lib, --bin …).
  mapfile -t failed < <(grep -oE '`-p [^`]*`' "$LOG" | tr -d '`' | sort -u)
  [ "${#failed[@]}" -gt 0 ] || { echo "tests failed"; exit 1; }
  for f in "${failed[@]}"; do
    case "$f" in
      "-p softphone-cli --test devices"|"-p softphone-cli --test call_devices"|"-p softphone-scenario --test scenario"|"-p softphone-cli --test calls"|"-p softphone-cli --test tls_calls"|"-p softphone-cli --test turn_calls") ;;
      *) echo "tests failed: $f"; exit 1 ;;
    esac
  done
  for f in "${failed[@]}"; do
    echo "== FLAKY: $f failed once; running it again"
    # shellcheck disable=SC2086
    cargo test --locked $f
  done
fi
rm -f "$LOG"
echo "== docs";     RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== release workflow (actionlint)"; bash scripts/check-workflows.sh
# The .deb and .rpm from the release profile, linted, signed (.rpm), installed into a
# scratch root and started. The release build is the price: ~3 min when only our crates
# changed, more from cold (docs/benchmarks.md). SOFTPHONE_SKIP_PACKAGES=1 skips it while
# iterating locally; CI never sets it.
if [ "${SOFTPHONE_SKIP_PACKAGES:-0}" = 1 ]; then
  echo "== installers: skipped (SOFTPHONE_SKIP_PACKAGES=1)"
else
  echo "== installers"; bash scripts/check-packages.sh
fi
echo "== all checks passed"
