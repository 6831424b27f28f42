#!/usr/bin/env bash
# Make sure the Debian tools some tests drive are installed:
#   chromium + chromedriver  the dashboard's browser tests (tests/browser)
#   promtool (prometheus)    the alert rules' checks and unit tests (tests/deploy)
#   tesseract (tesseract-ocr) the optional OCR engine's tests (tests/unit/parser)
# Installs what is missing with apt when apt can be used (root, or passwordless sudo);
# otherwise says what to do and exits 0, so `make test` goes on and those tests skip
# saying why.
#
#   bash scripts/ensure_test_tools.sh          # idempotent: quick when all are there
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
have promtool || missing+=(prometheus)
have tesseract || missing+=(tesseract-ocr)

if [ ${#missing[@]} -eq 0 ]; then
    echo "ensure_test_tools: $(chromium --version 2>/dev/null | head -n1), chromedriver, promtool and tesseract are installed"
    exit 0
fi

if ! have apt-get; then
    echo "ensure_test_tools: missing ${missing[*]} and apt-get is not available; the tests that need them will be skipped" >&2
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif have sudo && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "ensure_test_tools: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 0
fi

echo "ensure_test_tools: installing Debian's ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No service may start during the install (prometheus ships one): this is a test machine.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null && "${SUDO[@]}" chmod +x "$policy" && added_policy=1
fi
cleanup() { [ "$added_policy" = 1 ] && "${SUDO[@]}" rm -f "$policy"; return 0; }
trap cleanup EXIT
# Chromium as Debian recommends it (fonts); prometheus only for promtool, nothing more.
install() {
    local browser=() other=()
    for p in "${missing[@]}"; do case $p in chromium*) browser+=("$p") ;; *) other+=("$p") ;; esac; done
    [ ${#browser[@]} -eq 0 ] || "${SUDO[@]}" apt-get install -y -q "${browser[@]}" >/dev/null || return 1
    [ ${#other[@]} -eq 0 ] || "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${other[@]}" >/dev/null
}
if ! install 2>/dev/null; then
    if ! { "${SUDO[@]}" apt-get update -q >/dev/null && install; }; then
        echo "ensure_test_tools: apt-get could not install ${missing[*]}; the tests that need them will be skipped" >&2
        exit 0
    fi
fi
echo "ensure_test_tools: installed ${missing[*]}"
