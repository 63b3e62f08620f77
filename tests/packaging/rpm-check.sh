#!/bin/sh
# Builds the RPMs (packaging/rpm/build) and checks what a sysadmin's rpm would do with them:
# the file list, and scriptlets that enable by preset, never start, and never restart the agent.
# Usage: rpm-check.sh SOURCE_DIR OUTDIR
set -eu
src=$1
out=$2
"$src/packaging/rpm/build" "$out" >/dev/null
rpmfile=$(ls "$out"/smartvm-agent-*.x86_64.rpm | head -n 1)
fail() { echo "rpm-check: $*" >&2; exit 1; }
files=$(rpm -qlp "$rpmfile" 2>/dev/null)
for f in /usr/sbin/smartvm-agent /usr/lib/systemd/system/smartvm-agent.service \
         /usr/lib/systemd/system-preset/80-smartvm-agent.preset /usr/share/man/man8/smartvm-agent.8; do
  echo "$files" | grep -qx "$f" || fail "$f is not in $(basename "$rpmfile")"
done
echo "$files" | grep -q smartvm-context && fail "smartvm-context does not belong in the agent's package"
scripts=$(rpm -qp --scripts "$rpmfile" 2>/dev/null)
echo "$scripts" | grep -q 'systemctl --no-reload preset smartvm-agent.service' || fail "post does not apply the preset"
echo "$scripts" | grep -q 'systemctl --no-reload disable --now smartvm-agent.service' || fail "preun does not disable"
echo "$scripts" | grep -Eq 'systemctl (start|restart|try-restart)' && fail "a scriptlet starts or restarts the agent"
echo "rpm-check: $(basename "$rpmfile"): files and scriptlets ok"

frontend=$(ls "$out"/smartvm-frontend-*.x86_64.rpm | head -n 1)
ffiles=$(rpm -qlp "$frontend" 2>/dev/null)
for f in /usr/bin/smartvm-frontend /usr/bin/smartvm-context /usr/lib/systemd/system/smartvm-frontend.service; do
  echo "$ffiles" | grep -qx "$f" || fail "$f is not in $(basename "$frontend")"
done
rpm -qp --scripts "$frontend" 2>/dev/null | grep -q 'try-restart smartvm-frontend.service' ||
  fail "the frontend is not restarted on upgrade"
echo "rpm-check: $(basename "$frontend"): files and scriptlets ok"

nodeld=$(ls "$out"/smartvm-nodeld-*.x86_64.rpm | head -n 1)
nfiles=$(rpm -qlp "$nodeld" 2>/dev/null)
for f in /usr/sbin/nodeld /usr/lib/systemd/system/nodeld.service /etc/smartvm/nodeld.ini \
         /usr/share/dbus-1/system.d/org.smartvm.Nodeld1.conf /usr/share/man/man8/nodeld.8; do
  echo "$nfiles" | grep -qx "$f" || fail "$f is not in $(basename "$nodeld")"
done
rpm -qp --configfiles "$nodeld" 2>/dev/null | grep -qx /etc/smartvm/nodeld.ini || fail "nodeld.ini is not a config file"
echo "rpm-check: $(basename "$nodeld"): files ok"

launcher=$(ls "$out"/smartvm-launcher-*.x86_64.rpm | head -n 1)
lfiles=$(rpm -qlp "$launcher" 2>/dev/null)
for f in /usr/bin/smartvm-run /etc/smartvm/services.d /usr/share/man/man8/smartvm-run.8; do
  echo "$lfiles" | grep -qx "$f" || fail "$f is not in $(basename "$launcher")"
done
rpm -qp --requires "$launcher" 2>/dev/null | grep -qx qemu-img || fail "$(basename "$launcher") does not require qemu-img"
echo "rpm-check: $(basename "$launcher"): files ok"
