#!/usr/bin/env bash
# Test set-up for the browser tests (tests/serve-page.test.ts): a headless Chromium with WebGPU.
# Idempotent, like scripts/setup.sh: where no Chromium is found and this is Debian run as root, it
# installs Debian's `chromium` package (its WebGPU runs with --enable-unsafe-webgpu, on SwiftShader
# where there is no GPU); elsewhere it prints what to install. `npm start` never runs this.
# Prints the browser's path on stdout. DLLM_WGPU_CHROMIUM names a browser to use instead.
set -euo pipefail
say() { printf 'setup-browser: %s\n' "$*" >&2; }

find_browser() {
  if [ -n "${DLLM_WGPU_CHROMIUM:-}" ] && [ -x "${DLLM_WGPU_CHROMIUM}" ]; then
    echo "${DLLM_WGPU_CHROMIUM}"
    return 0
  fi
  for b in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$b" >/dev/null; then
      command -v "$b"
      return 0
    fi
  done
  return 1
}

if find_browser; then exit 0; fi

if [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "no Chromium found; installing Debian's chromium package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium >&2
  if find_browser; then exit 0; fi
fi

say "no Chromium found and nothing installed (not Debian run as root): install chromium (or Chrome)"
say "and run the browser tests again, or set DLLM_WGPU_CHROMIUM to its path"
exit 1
