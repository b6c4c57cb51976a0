#!/usr/bin/env bash
# Keeps a persistent target folder from filling the disk: every build of a test binary
# under another feature set (`cargo test -p X` unifies features differently from
# `--workspace`) leaves an executable of 100-900 MB in target/debug/deps, and nothing
# ever removes the old ones (60 GB of them, 2026-12-08, and a full disk stopped a build).
# Keeps the newest executable of each name; a build that needs an older variant relinks
# it. Libraries (.rlib/.rmeta) stay: they are what makes a warm build warm.
set -euo pipefail
deps="${CARGO_TARGET_DIR:-target}/debug/deps"
[ -d "$deps" ] || exit 0
python3 - "$deps" <<'PY'
import collections, os, sys
deps = sys.argv[1]
groups = collections.defaultdict(list)
for f in os.listdir(deps):
    p = os.path.join(deps, f)
    if "." in f or not os.path.isfile(p) or not os.access(p, os.X_OK):
        continue
    groups[f.rsplit("-", 1)[0]].append((os.stat(p).st_mtime, p))
freed = 0
for files in groups.values():
    files.sort()
    for _, p in files[:-1]:
        freed += os.stat(p).st_size
        os.remove(p)
print(f"prune-target: {freed / 2**30:.1f} GiB of stale test executables removed from {deps}")
PY
