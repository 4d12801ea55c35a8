#!/usr/bin/env bash
# Debian packages the test suite needs: chromium (browser tests, driven by
# Playwright through executable_path; no browser download), graphviz (call
# graphs of .prof files) and sqlmap (scripts/probe.py, tests/test_probe.py).
# Installs only what is missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v dot >/dev/null || missing+=(graphviz)
command -v sqlmap >/dev/null || missing+=(sqlmap)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "system-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "system-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
