#!/usr/bin/env bash
# Makes Debian's Chromium available for the browser tests (playwright-core drives it; no browser
# download). Installs it with apt-get when running as root on Debian/Ubuntu; otherwise says how.
set -euo pipefail
CHROMIUM=${CHROMIUM_PATH:-/usr/lib/chromium/chromium}
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests (apt-get install chromium, ~2-3 min, once)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "Chromium not found at $CHROMIUM: the runtime's browser test is skipped and the e2e browser tests fail." >&2
echo "Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM_PATH." >&2
