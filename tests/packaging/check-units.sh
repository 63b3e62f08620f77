#!/bin/sh
# Checks the systemd units: systemd-analyze verify inside a Debian tree with the package
# installed (so that ExecStart and the man page resolve), and the exposure of
# `systemd-analyze security --offline`, against the ceiling recorded below.
# Usage: check-units.sh SOURCE_DIR DEB_DIR
set -eu
src=$1
debs=$2
cache=$("$src/tests/vm/debian-tree.sh")
work=$(mktemp -d /tmp/smartvm-units.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
tar -C "$work/root" -xf "$cache"
version=$(sed -n 's/^project(smartvm VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
cp "$debs/smartvm-agent_${version}_amd64.deb" "$debs/smartvm-frontend_${version}_amd64.deb" \
  "$debs/smartvm-nodeld_${version}_amd64.deb" "$work/root/tmp/"
# libisofs (the frontend's dependency) and libvirt (nodeld's) are not in the tree: --force-depends, the units are what is checked.
chroot "$work/root" dpkg -i --force-depends "/tmp/smartvm-agent_${version}_amd64.deb" "/tmp/smartvm-frontend_${version}_amd64.deb" \
  "/tmp/smartvm-nodeld_${version}_amd64.deb" >/dev/null 2>&1

status=0
# unit  ceiling  why the ceiling is where it is (initscripts/*.service say more)
while read -r unit ceiling; do
  out=$(systemd-analyze verify --man=no --root="$work/root" "/lib/systemd/system/$unit" 2>&1 | grep -v 'Failed to find module' || true)
  if [ -n "$out" ]; then
    echo "check-units: $unit: systemd-analyze verify: $out" >&2
    status=1
  fi
  score=$(systemd-analyze security --offline=true --root="$work/root" "$unit" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "check-units: $unit: exposure $score (ceiling $ceiling)"
  awk -v s="$score" -v c="$ceiling" 'BEGIN { exit !(s != "" && s <= c) }' || { echo "check-units: $unit: exposure $score above $ceiling" >&2; status=1; }
done <<UNITS
smartvm-agent.service 5.0
smartvm-frontend.service 2.5
nodeld.service 4.0
UNITS
exit $status
