#!/usr/bin/env bash
# Installs everything Agent Softphone needs to build, run and test on Debian 12.
# Idempotent; run as root or with sudo available.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  # build: Tauri/WebKitGTK, OpenSSL, ALSA headers for cpal, cmake for libopus
  build-essential pkg-config cmake curl file
  libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
  libasound2-dev
  # run/test: virtual audio devices, reference Opus tools, speech, headless display
  pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
  opus-tools sox espeak-ng
  # the prospect's browser in the call tests (headless Chromium as a WebRTC peer)
  chromium
  xvfb xauth webkit2gtk-driver
  dbus dbus-x11 gnome-keyring libsecret-tools
  python3 python3-pip
  # the TLS test: nginx terminates TLS in front of the server (server/tests/tls.rs);
  # openssl makes its throwaway CA
  nginx-light openssl
  # the TURN test: coturn relays a relay-only call (crates/cli/tests/turn_calls.rs)
  coturn
  # the packaging test: systemd-analyze verifies the server's unit (packaging/server)
  systemd
  # the installer checks (scripts/check-packages.sh): lint, install into a scratch root,
  # sign and verify the .rpm with a throwaway key
  lintian rpmlint rpm desktop-file-utils gnupg
  # benchmarks
  time bc baresip-core
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from NodeSource (its nodejs bundles npm and conflicts with Debian's npm).
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# Python test tools. Debian 12 marks its Python "externally managed"; these are test
# tools only, so install them for the user running the tests.
export PIP_BREAK_SYSTEM_PACKAGES=1
# WB-PESQ for the recorder quality tests (pesq builds from source; needs numpy first).
python3 -m pip install -q --disable-pip-version-check "numpy>=1.26,<3" 2>&1 | grep -v "Running pip as the 'root'" || true
python3 -m pip install -q --disable-pip-version-check "pesq==0.0.4" 2>&1 | grep -v "Running pip as the 'root'" || true
python3 -c "import pesq, numpy" || { echo "PESQ install failed" >&2; exit 1; }
# moto's S3-compatible server: the storage tests run the S3 path against it.
command -v moto_server >/dev/null || python3 -m pip install -q --disable-pip-version-check "moto[server]>=5,<6" 2>&1 | grep -v "Running pip as the 'root'" || true
command -v moto_server >/dev/null || { echo "moto_server install failed" >&2; exit 1; }
# OpenAPI 3.1 validator for docs/openapi.json.
python3 -c "import openapi_spec_validator" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check "openapi-spec-validator>=0.7,<0.10" 2>&1 | grep -v "Running pip as the 'root'" || true
python3 -c "import openapi_spec_validator" || { echo "openapi-spec-validator install failed" >&2; exit 1; }
# schemathesis: the schema-driven API fuzzer of server/tests/api_fuzz.rs.
command -v schemathesis >/dev/null || python3 -m pip install -q --disable-pip-version-check "schemathesis==4.32.5" 2>&1 | grep -v "Running pip as the 'root'" || true
command -v schemathesis >/dev/null || { echo "schemathesis install failed" >&2; exit 1; }

# npm packages (versions pinned by package-lock.json): tauri-driver for the WebDriver
# end-to-end test, and the Tauri CLI to bundle installers (`npx tauri build`). Prebuilt
# binaries, seconds. `npm install --no-save` rather than `npm ci`: some npm mirrors lack
# the other platforms' optional binary packages, which `npm ci` insists on finding.
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tauri-driver ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-save --no-audit --no-fund --loglevel=error
fi
echo "setup complete"
