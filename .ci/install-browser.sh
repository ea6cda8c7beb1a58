#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it with executable_path; no
# browser is downloaded), and Node.js with npm for the type checker, where missing.
# Idempotent and quiet: exits 0 at once when everything is already installed.
set -euo pipefail

packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
if ((${#packages[@]} == 0)); then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"; } \
    >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-browser.sh: apt-get failed" >&2
    exit 1
fi
command -v chromium >/dev/null 2>&1 || { echo "install-browser.sh: no chromium" >&2; exit 1; }
