#!/usr/bin/env bash
# One server example, built from this tree and from BASE, run alternately in one run:
#   EXAMPLE=login_stall   (issue "Trust" item 3: failed-login flood vs API latency)
#   EXAMPLE=read_throughput (item 5: authenticated reads per second, 8 clients)
# Prints one JSON line per build and round.
#   EXAMPLE=login_stall ROUNDS=3 ARGS=10 BASE=b18a72a bash benches/server-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLE="${EXAMPLE:-login_stall}"
BASE="${BASE:-b18a72a}"
ROUNDS="${ROUNDS:-3}"
ARGS="${ARGS:-10}"
T="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$T"
out="$(mktemp -d)"
wt="$(mktemp -d)"
git worktree add --detach "$wt" "$BASE" >/dev/null
trap 'git worktree remove --force "$wt"; rm -rf "$out"' EXIT INT TERM
cp "server/examples/$EXAMPLE.rs" "$wt/server/examples/"
cargo build -q --release -p softphone-server --example "$EXAMPLE"
cp "$T/release/examples/$EXAMPLE" "$out/new"
(cd "$wt" && cargo build -q --release -p softphone-server --example "$EXAMPLE")
cp "$T/release/examples/$EXAMPLE" "$out/base"
for r in $(seq "$ROUNDS"); do
  # shellcheck disable=SC2086
  echo "round $r base $("$out/base" $ARGS)"
  # shellcheck disable=SC2086
  echo "round $r new  $("$out/new" $ARGS)"
done
