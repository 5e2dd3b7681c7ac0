"""The guests' two boot scripts, kept here as text so that an installed ocfkit carries them.

VM_INIT is PID 1 of every guest (bash, no systemd, no udev); INITRAMFS_INIT is the busybox
initramfs' /init that only mounts the root disk and hands over to it. Both are part of the image
cache key.
"""

VM_INIT = r'''#!/bin/bash
# PID 1 of the ocfkit test guests (no systemd, no udev): mount the kernel file systems, name the
# guest from the kernel command line, configure the links, mount the 9p shares and run host jobs.
#
# Job protocol: the host writes /ctl/q/ID.tmp, renames it to ID.sh and writes a line to the
# virtio-serial port named "door". This loop renames ID.sh to ID.run, runs it in the background
# with its output in ID.out, and publishes the exit status as ID.rc (written then renamed).
# While idle the loop blocks in the read builtin: no process is forked. bash, as PID 1, reaps
# finished jobs and orphaned daemons itself.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
# udev would make these; bash's process substitution (crm-fence-peer.9.sh) needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
for i in 0:stdin 1:stdout 2:stderr; do ln -sf "/proc/self/fd/${i%%:*}" "/dev/${i#*:}"; done
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mount -t tmpfs tmpfs /var/lib/iscsi 2>/dev/null
mount -o remount,rw / 2>/dev/null  # the snapshot overlay is per guest: writes are discarded
mkdir -p /etc/lvm/archive /etc/lvm/backup
mount -t tmpfs tmpfs /etc/lvm/archive
mount -t tmpfs tmpfs /etc/lvm/backup
mkdir -p /run/lock /run/lvm /run/lockd /run/resource-agents
for m in virtio_console virtio_net virtio_rng 9pnet_virtio 9p configfs loop; do modprobe -q $m; done
mount -t configfs configfs /sys/kernel/config
# Stable disk names as udev would make them: /dev/disk/by-id/virtio-SERIAL.
mkdir -p /dev/disk/by-id
for d in /sys/block/vd*; do
    s=$(cat "$d/serial" 2>/dev/null) && [ -n "$s" ] && ln -sf "../../${d##*/}" "/dev/disk/by-id/virtio-$s"
done

name=vm; ip1=""; ip2=""
for w in $(cat /proc/cmdline); do
    case $w in
        vm.name=*) name=${w#vm.name=} ;;
        vm.ip1=*) ip1=${w#vm.ip1=} ;;
        vm.ip2=*) ip2=${w#vm.ip2=} ;;
    esac
done
hostname "$name"
echo "$name" > /etc/hostname
printf '127.0.0.1 localhost\n' > /etc/hosts
echo "InitiatorName=iqn.2024-01.test.vm:init-$name" > /etc/iscsi/initiatorname.iscsi

if [ -x /usr/bin/dbus-daemon ]; then mkdir -p /run/dbus && dbus-daemon --system --fork; fi

ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0
[ -n "$ip1" ] && ip link set eth1 up && ip addr add "$ip1" dev eth1
[ -n "$ip2" ] && ip link set eth2 up && ip addr add "$ip2" dev eth2

mkdir -p /ctl /src
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 ctl /ctl
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144,ro src /src 2>/dev/null

door=""
for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = door ] && door=/dev/${p##*/}
done
exec 3<"$door"
read -r up _ < /proc/uptime
echo "$up" > /ctl/ready.tmp && mv /ctl/ready.tmp /ctl/ready

shopt -s nullglob
while :; do
    for job in /ctl/q/*.sh; do
        id=${job%.sh}
        mv "$job" "$id.run" || continue
        ( bash "$id.run" > "$id.out" 2>&1 3<&- < /dev/null; echo $? > "$id.rc.tmp"; mv "$id.rc.tmp" "$id.rc" ) 3<&- &
    done
    read -r -t 5 _ <&3
done
'''

INITRAMFS_INIT = r'''#!/bin/busybox sh
# Initramfs of the ocfkit test guests: load the modules the root disk needs, mount it, hand over.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do
    insmod "/lib/modules/$m" 2>/dev/null || echo "initramfs: insmod $m failed"
done
# The root disk is the virtio disk with serial "root": Debian 13's kernel probes virtio disks in
# parallel, so vda is not always the first disk on the command line.
root=""
n=0
while [ -z "$root" ] && [ $n -lt 200 ]; do
    for d in /sys/block/vd*; do
        [ "$(cat "$d/serial" 2>/dev/null)" = root ] && [ "$(cat "$d/size")" != 0 ] && root=/dev/${d##*/}
    done
    [ -n "$root" ] && [ -b "$root" ] || { root=""; sleep 0.05; n=$((n + 1)); }
done
mkdir -p /newroot
if [ -z "$root" ] || ! mount -t ext4 -o ro "$root" /newroot; then
    echo "initramfs: cannot mount the root disk ($root)"; exec sh
fi
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/vm-init
'''
