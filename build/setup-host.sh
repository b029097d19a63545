#!/usr/bin/env bash
# Installs the Debian packages the pipeline runs on this host (build/host-packages.txt), when any
# is missing. Needs root (or sudo) on Debian 12; a machine that already has them is left untouched.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
list="$here/host-packages.txt"
[ -f "$list" ] || exit 0
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$' || true)
[ "${#wanted[@]}" -gt 0 ] || exit 0
missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "setup-host: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
