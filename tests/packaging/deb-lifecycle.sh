#!/bin/sh
# Installs, upgrades, removes and purges the smartvm-agent .deb in a minimal Debian 12 chroot
# (the systemd guest's cached debootstrap), checking after each step what a sysadmin would:
# the files, the enabled unit and init script, that nothing was started, that nothing is left.
# Usage: deb-lifecycle.sh SOURCE_DIR DEB_DIR
set -eu
src=$1
debs=$2
cache=$("$src/tests/vm/debian-tree.sh")
work=$(mktemp -d /tmp/smartvm-deb-lifecycle.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir "$root"
tar -C "$root" -xf "$cache"
fail() { echo "deb-lifecycle: $*" >&2; exit 1; }
in_root() { chroot "$root" "$@"; }
version=$(sed -n 's/^project(smartvm VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
next="$version.1"
# The upgrade is the same package with a higher version: repacked, not built again (a second
# build would only compile the same code for minutes).
mkdir -p "$work/next" "$work/repack"
dpkg-deb -R "$debs/smartvm-agent_${version}_amd64.deb" "$work/repack"
sed -i "s/^Version: .*/Version: $next/" "$work/repack/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/repack" "$work/next/smartvm-agent_${next}_amd64.deb" >/dev/null

cp "$debs/smartvm-agent_${version}_amd64.deb" "$work/next/smartvm-agent_${next}_amd64.deb" "$root/tmp/"
in_root dpkg -i "/tmp/smartvm-agent_${version}_amd64.deb" >/dev/null 2>&1
[ -x "$root/usr/sbin/smartvm-agent" ] || fail "install: no /usr/sbin/smartvm-agent"
[ -f "$root/usr/share/man/man8/smartvm-agent.8.gz" ] || fail "install: no man page"
[ -L "$root/etc/systemd/system/multi-user.target.wants/smartvm-agent.service" ] || fail "install: unit not enabled"
ls "$root"/etc/rc2.d/S*smartvm-agent >/dev/null 2>&1 || fail "install: init script not enabled"
in_root dpkg-query -W -f='${Conffiles}\n' smartvm-agent | grep -q /etc/init.d/smartvm-agent || fail "install: init script is not a conffile"
[ ! -e "$root/run/smartvm-agent.pid" ] || fail "install: the agent was started"
echo "deb-lifecycle: install $version: ok"

in_root dpkg -i "/tmp/smartvm-agent_${next}_amd64.deb" >/dev/null 2>&1
[ "$(in_root dpkg-query -W -f='${Version}' smartvm-agent)" = "$next" ] || fail "upgrade: version is not $next"
[ -L "$root/etc/systemd/system/multi-user.target.wants/smartvm-agent.service" ] || fail "upgrade: unit no longer enabled"
[ ! -e "$root/run/smartvm-agent.pid" ] || fail "upgrade: the agent was started"
echo "deb-lifecycle: upgrade to $next: ok"

in_root dpkg -r smartvm-agent >/dev/null
[ ! -e "$root/usr/sbin/smartvm-agent" ] || fail "remove: the binary is still there"
[ -e "$root/etc/init.d/smartvm-agent" ] || fail "remove: the conffile went before purge"
echo "deb-lifecycle: remove: ok"

in_root dpkg -P smartvm-agent >/dev/null
[ ! -e "$root/etc/init.d/smartvm-agent" ] || fail "purge: /etc/init.d/smartvm-agent is left"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/smartvm-agent.service" ] || fail "purge: the enable link is left"
! ls "$root"/etc/rc?.d/*smartvm-agent >/dev/null 2>&1 || fail "purge: rc links are left"
left=$(cd "$root" && find . -name '*smartvm*' ! -path './tmp/*' | head -n 5)
[ -z "$left" ] || fail "purge: left behind: $left"
echo "deb-lifecycle: purge: ok"

# nodeld: its libraries (libvirt, libibverbs, ...) are not in the minimal tree, so dependencies
# are forced; what is checked is the package's own files, conffiles and maintainer scripts.
cp "$debs/smartvm-nodeld_${version}_amd64.deb" "$root/tmp/"
in_root dpkg -i --force-depends "/tmp/smartvm-nodeld_${version}_amd64.deb" >/dev/null 2>&1 || true
[ -x "$root/usr/sbin/nodeld" ] || fail "nodeld install: no /usr/sbin/nodeld"
[ -f "$root/usr/share/man/man8/nodeld.8.gz" ] || fail "nodeld install: no man page"
[ -f "$root/usr/share/dbus-1/system.d/org.smartvm.Nodeld1.conf" ] || fail "nodeld install: no D-Bus policy"
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' smartvm-nodeld)
echo "$conffiles" | grep -q ' /etc/smartvm/nodeld.ini ' || fail "nodeld install: nodeld.ini is not a conffile"
echo "$conffiles" | grep -q ' /etc/init.d/nodeld ' || fail "nodeld install: the init script is not a conffile"
[ -L "$root/etc/systemd/system/multi-user.target.wants/nodeld.service" ] || fail "nodeld install: unit not enabled"
ls "$root"/etc/rc2.d/S*nodeld >/dev/null 2>&1 || fail "nodeld install: init script not enabled"
[ ! -e "$root/run/nodeld.pid" ] || fail "nodeld install: nodeld was started"
echo "deb-lifecycle: nodeld install: ok"
in_root dpkg -P --force-depends smartvm-nodeld >/dev/null 2>&1
left=$(cd "$root" && find . \( -name '*nodeld*' -o -path './etc/smartvm' \) ! -path './tmp/*' | head -n 5)
[ -z "$left" ] || fail "nodeld purge: left behind: $left"
echo "deb-lifecycle: nodeld purge: ok"

# smartvm-launcher: libvirt and qemu-utils are not in the minimal tree either.
cp "$debs/smartvm-launcher_${version}_amd64.deb" "$root/tmp/"
in_root dpkg -i --force-depends "/tmp/smartvm-launcher_${version}_amd64.deb" >/dev/null 2>&1 || true
[ -x "$root/usr/bin/smartvm-run" ] || fail "launcher install: no /usr/bin/smartvm-run"
[ -f "$root/usr/share/man/man8/smartvm-run.8.gz" ] || fail "launcher install: no man page"
[ -d "$root/etc/smartvm/services.d" ] || fail "launcher install: no /etc/smartvm/services.d"
[ -f "$root/usr/share/doc/smartvm-launcher/examples/blast.ini" ] || fail "launcher install: no example service"
[ -f "$root/usr/share/doc/smartvm-launcher/examples/smartvm-job.sbatch" ] || fail "launcher install: no example batch script"
echo "deb-lifecycle: launcher install: ok"
in_root dpkg -P --force-depends smartvm-launcher >/dev/null 2>&1
left=$(cd "$root" && find . \( -name '*smartvm-run*' -o -path './etc/smartvm' \) ! -path './tmp/*' | head -n 5)
[ -z "$left" ] || fail "launcher purge: left behind: $left"
echo "deb-lifecycle: launcher purge: ok"
