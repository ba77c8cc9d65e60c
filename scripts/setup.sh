#!/usr/bin/env bash
# Idempotent set-up for dllm-wgpu on a machine that has only Node.
#  1. `npm ci` when node_modules is missing or older than package-lock.json.
#  2. Build dist/ (the compiled CLI and library) when it is missing or older than the sources, and
#     regenerate the WGSL string modules the sources import (scripts/build.mjs --if-stale).
#  3. Ask Dawn (npm `webgpu`) for an adapter. If there is none and this is Debian run as root,
#     install the Vulkan loader and Mesa 25's lavapipe (CPU Vulkan) from bookworm-backports:
#     Dawn refuses bookworm's own Mesa 22. Elsewhere, print exactly what to install.
# It does not touch a machine that already has an adapter (a real GPU, or lavapipe installed).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" # lavapipe warns on every start without it

say() { printf 'setup: %s\n' "$*" >&2; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

node scripts/build.mjs --if-stale

probe() { node scripts/probe-adapter.mjs 2>/dev/null; }

if probe >/dev/null; then
  say "WebGPU adapter: $(probe)"
  exit 0
fi

if [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  say "no WebGPU adapter found; installing libvulkan1 and Mesa lavapipe (Debian ${codename})"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$codename" = bookworm ]; then
    src=/etc/apt/sources.list.d/backports.sources
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
      uri=${uri:-http://deb.debian.org/debian}
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" >"$src"
    fi
    apt-get update -qq >&2
    apt-get install -y -qq libvulkan1 >&2
    apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >&2
  else
    apt-get update -qq >&2
    apt-get install -y -qq libvulkan1 mesa-vulkan-drivers >&2
  fi
  if probe >/dev/null; then
    say "WebGPU adapter: $(probe)"
    exit 0
  fi
  say "lavapipe is installed but Dawn still finds no adapter:"
  node scripts/probe-adapter.mjs >&2 || true
  exit 1
fi

cat >&2 <<'EOF'
setup: Dawn (npm `webgpu`) found no WebGPU adapter, and this is not Debian run as root, so nothing
was installed. Install one of:
  - a GPU driver with Vulkan (Linux), Metal (macOS) or D3D12 (Windows) support, or
  - the Vulkan loader plus Mesa >= 25 lavapipe (CPU), e.g. on Debian bookworm as root:
      add bookworm-backports to apt sources, then
      apt-get install libvulkan1 && apt-get install -t bookworm-backports mesa-vulkan-drivers
Then run this script again. Details from the probe:
EOF
node scripts/probe-adapter.mjs >&2 || true
exit 1
