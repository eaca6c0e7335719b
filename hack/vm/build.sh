#!/usr/bin/env bash
# Builds the pure cgroup v2 test VM into target/vm/ (once; later calls reuse it):
# Debian 12's generic 6.1 kernel (fetched with apt-get download, unpacked, never installed)
# and a busybox initramfs that mounts the host's root read-only over virtio-9p under a tmpfs
# overlay and mounts cgroup2 with every controller at /sys/fs/cgroup.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${VM_DIR:-$here/../../target/vm}
mkdir -p "$out"
out=$(cd "$out" && pwd)
stamp=$(sha256sum "$here/build.sh" "$here/init" "$here/systemd-mode.sh" | sha256sum | cut -c1-16)
if [ -f "$out/initrd.gz" ] && [ -f "$out/vmlinuz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The newest Debian 12 generic 6.1 kernel the archive has (the cloud flavour lacks 9p).
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
if [ -z "$pkg" ]; then
  apt-get update -qq
  pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
fi
[ -n "$pkg" ] || { echo "no linux-image-6.1.0-*-amd64 package found" >&2; exit 1; }
(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1)
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/k"
ver=${pkg#linux-image-}
cp "$work/k/boot/vmlinuz-$ver" "$out/vmlinuz"
root="$work/initramfs"
mkdir -p "$root"/{bin,proc,sys,dev,lower,upper,newroot,modules}
cp /bin/busybox "$root/bin/busybox"
# veth and macvlan: the CRI lane's pod network (hack/e2e/cri.py); loop and ext4 (with what
# it needs: the kernel has no module loader here): idmapped-mount tests on an ext4 image;
# dummy: netDevices tests; netfilter (nf_tables, the iptables-nft compat layer, xt_mark): CRIU's
# kernel probes and the network lock it takes around a checkpoint.
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay veth macvlan crc16 mbcache jbd2 crc32c_generic ext4 loop dummy libcrc32c nfnetlink nf_tables x_tables nft_compat xt_mark xt_tcpudp unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack nf_conntrack_netlink; do
  f=$(find "$work/k/lib/modules/$ver" -name "$m.ko" | head -1)
  [ -n "$f" ] || { echo "module $m missing from $pkg" >&2; exit 1; }
  cp "$f" "$root/modules/"
done
cp "$here/init" "$root/init"
cp "$here/systemd-mode.sh" "$root/systemd-mode.sh"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 >"$out/initrd.gz")
echo "$stamp" >"$out/stamp"
echo "$pkg" >"$out/kernel"
