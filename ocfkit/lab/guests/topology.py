"""The guest topologies and running agents in them.

The storage pair (`Cluster`, Debian 12 guests, used by the guest tests of the agents) and the
Pacemaker lab (`PacemakerLab`, Debian 13 guests, see `ocfkit.lab.guests.pcmk`). Both have this
topology (all links are point-to-point UDP sockets on 127.0.0.1):

    a.eth1 ---- b.eth1        192.168.77.0/24, replication (DRBD)
    a.eth2 --\\
              c.br0 (eth1+eth2) 192.168.78.0/24, the service LAN; c is a bridge and the iSCSI client
    b.eth2 --/

Each node has two data disks (vdb, vdc) and a hostfwd from 127.0.0.1:<port> to its port 3260.
"""

from __future__ import annotations

import shlex
import threading

from ocf.calling import action_env
from ocfkit.lab.guests import vm

REPL = {"a": "192.168.77.1", "b": "192.168.77.2"}
LAN = {"a": "192.168.78.1", "b": "192.168.78.2", "c": "192.168.78.3"}
VIP = "192.168.78.10"

# Every real deployment of LVM on DRBD needs this filter: otherwise LVM also finds the PV on the
# backing disk and may activate it there behind DRBD's back.
FILTER = 'devices { global_filter = [ "a|^/dev/drbd|", "r|.*|" ] }\n'


def lvm_local(g, text: str) -> None:
    """Replace the guest's lvmlocal.conf (the reset empties it again)."""
    g.sh(f"cat > /etc/lvm/lvmlocal.conf <<'EOF'\n{text}EOF")


class Cluster:
    """The guests of one session, with helpers to run ocfkit agents inside them."""

    def __init__(self, image: str, rundir: str) -> None:
        base = vm.free_udp_base(10)
        ab_a, ab_b = vm.link_pair(base, 0x77)
        ac_a, ac_c = vm.link_pair(base + 2, 0x78)
        bc_b, bc_c = vm.link_pair(base + 4, 0x79)
        self.ports = {"a": base + 6, "b": base + 7}
        self.guests = {
            "a": vm.Guest(image, rundir, "a", links=[ab_a, ac_a], ips=[REPL["a"] + "/24", LAN["a"] + "/24"],
                          disks_mb=[64, 64], hostfwd={self.ports["a"]: 3260}),
            "b": vm.Guest(image, rundir, "b", links=[ab_b, bc_b], ips=[REPL["b"] + "/24", LAN["b"] + "/24"],
                          disks_mb=[64, 64], hostfwd={self.ports["b"]: 3260}),
            "c": vm.Guest(image, rundir, "c", links=[ac_c, bc_c], ips=[], memory_mb=384),
        }

    def __getitem__(self, name: str) -> vm.Guest:
        return self.guests[name]

    def boot(self, *names: str) -> None:
        """Boot guests in parallel and prepare them (agents installed from /src)."""
        errors: list[BaseException] = []

        def one(g: vm.Guest) -> None:
            try:
                g.boot()
                g.sh(PREPARE if g.name != "c" else SWITCH)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(self.guests[n],)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def restart(self, name: str) -> None:
        g = self.guests[name]
        g.kill()
        self.boot(name)

    def stop_all(self) -> None:
        for g in self.guests.values():
            g.stop()


# Inside a node: install ocfkit's agents from the read-only source share (stubs run /usr/bin/python3
# -IS with /src on their path, as on a real node), and keep LVM off everything but DRBD devices and
# the test's own disks when a test asks for it.
PREPARE = """
cd /src
python3 -c 'import sys; sys.path.insert(0, "/src"); from ocfkit.install import install
install(python="/usr/bin/python3")' >/dev/null
test -x /usr/lib/ocf/resource.d/ocfkit/drbd
"""

# The switch/client guest: bridge its two links into one LAN segment and take the client address.
SWITCH = f"""
modprobe bridge
ip link add br0 type bridge forward_delay 0 stp_state 0
ip link set eth1 master br0 && ip link set eth1 up
ip link set eth2 master br0 && ip link set eth2 up
ip link set br0 up && ip addr add {LAN['c']}/24 dev br0
"""

RESET = """
# Put a node back to its booted state: whatever a test left behind goes.
iscsiadm -m node --logoutall=all >/dev/null 2>&1
pkill -x iscsid 2>/dev/null
if [ -d /sys/kernel/config/target/iscsi ]; then
  for t in /sys/kernel/config/target/iscsi/iqn.*; do
    [ -d "$t" ] || continue
    for tpg in "$t"/tpgt_*; do
      echo 0 > "$tpg/enable" 2>/dev/null
      for acl in "$tpg"/acls/*; do
        [ -d "$acl" ] || continue
        for m in "$acl"/lun_*; do [ -d "$m" ] && { rm -f "$m"/* 2>/dev/null; rmdir "$m"; }; done
        rmdir "$acl"
      done
      for l in "$tpg"/lun/lun_*; do [ -d "$l" ] && { rm -f "$l"/* 2>/dev/null; rmdir "$l"; }; done
      for np in "$tpg"/np/*; do [ -d "$np" ] && rmdir "$np"; done
      rmdir "$tpg"
    done
    rmdir "$t"
  done
  for hba in /sys/kernel/config/target/core/*_*; do
    [ -d "$hba" ] || continue
    for so in "$hba"/*/; do [ -d "$so" ] && rmdir "$so"; done
    rmdir "$hba" 2>/dev/null
  done
fi
for m in $(awk '$2 ~ "^/mnt" {print $2}' /proc/mounts | sort -r); do umount -l "$m"; done
vgchange -an >/dev/null 2>&1
dmsetup remove_all 2>/dev/null
drbdadm down all >/dev/null 2>&1
for r in /sys/block/drbd*; do [ -e "$r" ] && drbdsetup down all; break; done
rm -f /etc/drbd.d/*.res
: > /etc/lvm/lvmlocal.conf
ip -4 addr show dev eth2 | awk '/secondary/ {print $2}' | xargs -r -n1 ip addr del dev eth2
iptables -F 2>/dev/null; nft flush ruleset 2>/dev/null
rm -rf /run/resource-agents/* /run/ocfkit* /mnt/*
for d in vdb vdc; do
  sz=$(($(cat /sys/block/$d/size) / 2048))
  dd if=/dev/zero of=/dev/$d bs=1M count=4 oflag=direct status=none
  dd if=/dev/zero of=/dev/$d bs=1M seek=$((sz - 4)) count=4 oflag=direct status=none
done
true
"""



def agent(guest: vm.Guest, name: str, action: str, /, *, instance: str = "", timeout: float = 60,
          env: dict | None = None, **params) -> vm.Result:
    """Run an installed ocfkit agent inside a guest the way the cluster does (environment only)."""
    inst = instance or f"{name.lower()}-test"
    assign = action_env({}, name, inst, {k: str(v) for k, v in params.items()}, provider="ocfkit", version="1.0",
                        timeout_ms=int(timeout * 1000))
    assign.update(env or {})
    words = " ".join(f"{k}={shlex.quote(v)}" for k, v in assign.items())
    return guest.run(f"env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin {words} "
                     f"/usr/lib/ocf/resource.d/ocfkit/{name} {action} 2>&1", timeout=timeout + 30, check=False)
