#!/usr/bin/env bash
# Make sure Debian's chromium and chromedriver are installed, for the dashboard's browser
# tests (tests/browser). Installs them with apt when they are missing and apt can be used
# (root, or passwordless sudo); otherwise says what to do and exits 0, so `make test` goes
# on and the browser tests skip saying why.
#
#   bash scripts/ensure_chromium.sh          # idempotent: quick when both are there
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    echo "ensure_chromium: $(chromium --version 2>/dev/null | head -n1) and chromedriver are installed"
    exit 0
fi

if ! have apt-get; then
    echo "ensure_chromium: chromium/chromedriver missing and apt-get is not available; the browser tests will be skipped" >&2
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif have sudo && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "ensure_chromium: chromium/chromedriver missing; run as root: apt-get install -y chromium chromium-driver" >&2
    exit 0
fi

echo "ensure_chromium: installing Debian's chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
install() { "${SUDO[@]}" apt-get install -y -q chromium chromium-driver >/dev/null; }
if ! install 2>/dev/null; then
    if ! { "${SUDO[@]}" apt-get update -q >/dev/null && install; }; then
        echo "ensure_chromium: apt-get could not install chromium chromium-driver; the browser tests will be skipped" >&2
        exit 0
    fi
fi
echo "ensure_chromium: $(chromium --version 2>/dev/null | head -n1) and chromedriver installed"
