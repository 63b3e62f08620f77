#!/bin/sh
# Prints the path of a tarball of a minimal Debian 12 tree with systemd, udev, kmod, dbus and
# the agent's dependencies, made with debootstrap the first time (about a minute, from Debian's
# archive) and cached in /var/cache/smartvm: the systemd test guest and the package tests use it.
set -eu
packages=systemd-sysv,udev,kmod,dbus,libinih1
cache=/var/cache/smartvm/bookworm-minbase-$(echo "$packages" | tr ',' '-').tar
mirror=${SMARTVM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ ! -s "$cache" ]; then
  mkdir -p /var/cache/smartvm
  work=$(mktemp -d /var/cache/smartvm/bootstrap.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" > "$work/log" 2>&1 ||
    { tail -20 "$work/log" >&2; exit 1; }
  tar -C "$work/root" -cf "$cache.tmp" .
  mv "$cache.tmp" "$cache"
fi
echo "$cache"
