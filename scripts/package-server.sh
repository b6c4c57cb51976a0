#!/usr/bin/env bash
# Builds softphone-server in release and packs it with its systemd unit, default settings
# and the admin docs: dist/softphone-server-VERSION-ARCH-linux.tar.gz (docs/admin.md).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || . "$HOME/.cargo/env"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
arch="$(uname -m)"
name="softphone-server-${version}-${arch}-linux"
cargo build --release --locked -p softphone-server
target="${CARGO_TARGET_DIR:-target}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"
install -m 0755 "$target/release/softphone-server" "$stage/$name/softphone-server"
install -m 0644 packaging/server/softphone-server.service packaging/server/server.toml \
  docs/admin.md docs/server.md "$stage/$name/"
mkdir -p dist
tar -C "$stage" -czf "dist/$name.tar.gz" "$name"
sha256sum "dist/$name.tar.gz" | tee "dist/$name.tar.gz.sha256"
