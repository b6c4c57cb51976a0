#!/usr/bin/env bash
# A flood of failed logins against the API's latency (issue "Trust" item 3): this tree
# against BASE (default b18a72a, before Argon2 left the database lock), in one run,
# alternating rounds. Prints one JSON line per build and round (server/examples/login_stall.rs).
#   bash benches/login-stall.sh            ROUNDS=3 SECS=10 BASE=<rev>
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${BASE:-b18a72a}"
ROUNDS="${ROUNDS:-3}"
SECS="${SECS:-10}"
T="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$T"
out="$(mktemp -d)"
wt="$(mktemp -d)"
git worktree add --detach "$wt" "$BASE" >/dev/null
trap 'git worktree remove --force "$wt"; rm -rf "$out"' EXIT
cp server/examples/login_stall.rs "$wt/server/examples/"
cargo build -q --release -p softphone-server --example login_stall
cp "$T/release/examples/login_stall" "$out/new"
(cd "$wt" && cargo build -q --release -p softphone-server --example login_stall)
cp "$T/release/examples/login_stall" "$out/base"
for r in $(seq "$ROUNDS"); do
  echo "round $r base $("$out/base" "$SECS")"
  echo "round $r new  $("$out/new" "$SECS")"
done
