#!/bin/sh
# Builds the systemd test guest: a minimal Debian 12 with systemd, udev, kmod and dbus
# (debian-tree.sh: debootstrap, cached because it takes about a minute), the kernel
# modules the scenario needs, and the project's smartvm-agent .deb installed with dpkg as a
# sysadmin would. Boots with Debian's own kernel and initrd from /boot, root on a virtio disk.
#
# Usage: build-systemd-guest.sh AGENT_DEB OUTDIR       (writes OUTDIR/systemd-guest.img)
set -eu
deb=$1
out=$2
kver=$(ls /lib/modules | sort -V | tail -n 1)
mkdir -p "$out"
work=$(mktemp -d "$out/systemd-stage.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
cache=$("$(dirname "$0")/debian-tree.sh")
mkdir "$root"
tar -C "$root" -xf "$cache"

# Only the modules this guest needs (CD-ROM, iso9660, 9p over virtio), then depmod, so that
# udev and the kernel's module requests find them.
for m in ata_piix sr_mod isofs 9pnet_virtio 9p; do modprobe -S "$kver" --show-depends "$m"; done |
  awk '$1 == "insmod" { print $2 }' | sort -u | while read -r ko; do
    mkdir -p "$root$(dirname "$ko")"
    cp "$ko" "$root$ko"
  done
cp /lib/modules/"$kver"/modules.order /lib/modules/"$kver"/modules.builtin* "$root/lib/modules/$kver/"
depmod -b "$root" "$kver"

# The package, as a sysadmin installs it into a golden image: nothing may start.
cp "$deb" "$root/tmp/smartvm-agent.deb"
chroot "$root" dpkg -i /tmp/smartvm-agent.deb > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; exit 1; }
rm "$root/tmp/smartvm-agent.deb"
[ -L "$root/etc/systemd/system/multi-user.target.wants/smartvm-agent.service" ] ||
  { echo "build-systemd-guest: the package did not enable smartvm-agent.service" >&2; exit 1; }

echo "/dev/vda / ext4 defaults 0 1" > "$root/etc/fstab"
echo smartvm-guest > "$root/etc/hostname"
: > "$root/etc/machine-id"
# Nothing but the agent matters in this guest: no login prompts on the console.
ln -sf /dev/null "$root/etc/systemd/system/getty@.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@.service"

mkfs.ext4 -q -F -L root -d "$root" "$out/systemd-guest.img.tmp" 1G
mv "$out/systemd-guest.img.tmp" "$out/systemd-guest.img"
echo "build-systemd-guest: $out/systemd-guest.img"
