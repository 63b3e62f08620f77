#!/bin/sh
# Builds the tiny test guest from this host's Debian packages: Debian's guest kernel,
# uncompressed (qemu boots the ELF through PVH, which saves 5-9 s of decompression under TCG),
# and an initramfs with busybox, the modules the scenarios need, and smartvm-agent with the
# shared libraries it links. The agent is the guest's init payload: it finds the CONTEXT
# CD-ROM itself, and powers the VM off itself through reboot(2) (no systemd, no bus here).
#
# Usage: build-guest.sh AGENT OUTDIR        (writes OUTDIR/vmlinux and OUTDIR/initrd.gz)
set -eu
agent=$1
out=$2
kver=$(ls /lib/modules | sort -V | tail -n 1)
vmlinuz=/boot/vmlinuz-$kver
[ -r "$vmlinuz" ] || { echo "build-guest: no $vmlinuz (apt-get install linux-image-amd64)" >&2; exit 1; }
mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"  # the initramfs root: the job user must be able to traverse it

# The kernel: the xz stream inside the bzImage, decompressed once.
if [ ! -s "$out/vmlinux" ] || [ "$vmlinuz" -nt "$out/vmlinux" ]; then
  offset=$(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
  tail -c +"$((offset + 1))" "$vmlinuz" | xz -dc --single-stream > "$out/vmlinux.tmp"
  mv "$out/vmlinux.tmp" "$out/vmlinux"
fi

mkdir -p "$stage/bin" "$stage/sbin" "$stage/etc" "$stage/proc" "$stage/sys" "$stage/dev" \
  "$stage/run" "$stage/tmp" "$stage/mnt" "$stage/lib/modules"
cp /bin/busybox "$stage/bin/busybox"

# Modules in dependency order, one list per scenario family, loaded by /init as needed.
modules() {
  for m in "$@"; do modprobe -S "$kver" --show-depends "$m"; done |
    awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++'
}
modules ata_piix sr_mod isofs > "$stage/lib/modules/cdrom.list"
modules virtio_pci 9pnet_virtio 9p > "$stage/lib/modules/9p.list"
modules virtio_pci virtio_net nfsv4 > "$stage/lib/modules/nfs.list"
modules virtio_pci virtio_blk > "$stage/lib/modules/disk.list"
modules virtio_pci virtio_console > "$stage/lib/modules/port.list"
for f in $(cat "$stage"/lib/modules/*.list | sort -u); do cp "$f" "$stage/lib/modules/"; done
for l in "$stage"/lib/modules/*.list; do
  sed -i 's|.*/||' "$l"
done

# The agent and exactly the libraries it links (libsystemd is loaded on demand and absent here).
mkdir -p "$stage/usr/sbin"
cp "$agent" "$stage/usr/sbin/smartvm-agent"
strip "$stage/usr/sbin/smartvm-agent"
for lib in $(ldd "$agent" | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
  mkdir -p "$stage$(dirname "$lib")"
  cp -L "$lib" "$stage$lib"
done

cat > "$stage/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$stage/etc/group" <<'GR'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GR
echo 'passwd: files' > "$stage/etc/nsswitch.conf"
echo 'group: files' >> "$stage/etc/nsswitch.conf"

cat > "$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "smartvm-guest: init at $(cut -d' ' -f1 /proc/uptime) s"
load() { for m in $(cat /lib/modules/$1.list); do insmod /lib/modules/$m 2>/dev/null; done; }
load cdrom
grep -q 'smartvm.repo=9p' /proc/cmdline && load 9p
# The status channel of smartvm-run's domains (org.smartvm.status.0): the agent finds the port
# through /sys/class/virtio-ports, devtmpfs makes its /dev/vportNpM.
grep -q 'smartvm.port' /proc/cmdline && load port
if grep -q 'smartvm.repo=nfs' /proc/cmdline; then
  load nfs
  ip link set lo up
  ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0
  ip route add default via 10.0.2.2
fi
# A busy guest for the throttling test and benchmark: reads its disk (smartvm.io=read), or
# writes and reads it in turn (smartvm.io=mixed), with O_DIRECT, as fast as it may, forever.
if grep -q 'smartvm.io=' /proc/cmdline; then
  load disk
  echo "smartvm-guest: reading /dev/vda at $(cut -d' ' -f1 /proc/uptime) s"
  while :; do
    grep -q 'smartvm.io=mixed' /proc/cmdline && dd if=/dev/zero of=/dev/vda bs=1M oflag=direct 2>/dev/null
    dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null || sleep 1
  done
fi
echo "smartvm-guest: agent starts at $(cut -d' ' -f1 /proc/uptime) s"
exec /usr/sbin/smartvm-agent --context-wait 20
INIT
chmod 755 "$stage/init"

(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
echo "build-guest: $out/vmlinux $out/initrd.gz (kernel $kver)"
