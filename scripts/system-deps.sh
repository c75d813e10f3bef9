#!/usr/bin/env bash
# Debian packages the test-suite drives for real: redis-server, chromium, nginx,
# espeak-ng, which speaks the sentences the captions tests transcribe, and fontconfig with
# the DejaVu fonts, which write non-Latin names on the composite video's tiles; and a C
# compiler with Python's headers, which build the native fan-out (media/fanout.c) at install.
# Installs what is missing when running as root; otherwise says what to install.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v fc-match >/dev/null || need+=(fontconfig)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v cc >/dev/null || need+=(gcc libc6-dev)
"${PYTHON:-python3}" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
  need+=(python3-dev)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "The tests need these Debian packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "Installing ${need[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
