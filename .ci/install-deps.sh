#!/usr/bin/env bash
# Installs every Debian 12 package mailfs needs to build and test. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Keep package scripts from starting a system-wide dovecot on 143/993.
created_policy=0
if [ ! -x /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  cmake g++ make pkg-config libgtest-dev libgmock-dev \
  libfuse3-dev fuse3 libetpan-dev libpff-dev libbfio-dev pff-tools pst-utils \
  libssl-dev zlib1g-dev dovecot-imapd isync attr rsync python3 openssl procps >/dev/null
if [ "$created_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi

# pst-extractor (npm; a port of java-libpst): the third independent PST
# reader the tests use as a judge of the files mailfs writes. Installed once
# into a fixed folder that tests/integration/lib.sh finds.
PST_EXTRACTOR_DIR=${MAILFS_PST_EXTRACTOR_DIR:-/opt/mailfs-test-tools/pst-extractor}
if command -v npm >/dev/null && [ ! -d "$PST_EXTRACTOR_DIR/node_modules/pst-extractor" ]; then
  $SUDO mkdir -p "$PST_EXTRACTOR_DIR"
  (cd "$PST_EXTRACTOR_DIR" && $SUDO npm install --no-audit --no-fund --silent pst-extractor@1.12.0 >/dev/null) ||
    echo "install-deps: npm could not install pst-extractor; its checks will be skipped" >&2
fi
