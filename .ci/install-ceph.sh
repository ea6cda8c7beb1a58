#!/usr/bin/env bash
# Installs the Ceph daemons the S3 tests start as a throw-away cluster (tests/ceph_rgw.py).
# Idempotent and quiet: exits 0 at once when everything is already installed.
set -euo pipefail

packages=(ceph-mon ceph-osd radosgw ceph-common)
binaries=(ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool ceph)

have_all() {
    local b
    for b in "${binaries[@]}"; do
        command -v "$b" >/dev/null 2>&1 || return 1
    done
}

if have_all; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Quiet on success; on failure, show what apt said.
if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-ceph.sh: apt-get failed" >&2
    exit 1
fi

if ! have_all; then
    echo "install-ceph.sh: Ceph binaries still missing after apt-get install" >&2
    exit 1
fi
