# Sourced by the VM's init before it hands PID 1 to systemd: prepares /newroot (the overlay on
# the host's root) for a short, disk-less boot. Writes only into the overlay's tmpfs.
etc=/newroot/etc/systemd/system
mkdir -p "$etc" /newroot/etc/systemd/system-generators
# systemd takes a /.dockerenv for a container and skips what a machine does.
rm -f /newroot/.dockerenv
# Generators read the host's fstab, gpt partitions, getty consoles...: none apply here.
for dir in /newroot/lib/systemd/system-generators /newroot/usr/lib/systemd/system-generators; do
  [ -d "$dir" ] || continue
  for g in "$dir"/*; do
    ln -sf /dev/null "/newroot/etc/systemd/system-generators/${g##*/}"
  done
done
# Units that need a real disk, a real console or time, and would only slow the boot.
for u in getty.target serial-getty@ttyS0.service console-getty.service timers.target \
  systemd-remount-fs.service systemd-fsck-root.service systemd-tmpfiles-setup.service \
  systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer systemd-udevd.service \
  systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-udev-trigger.service \
  systemd-udev-settle.service systemd-random-seed.service systemd-machine-id-commit.service \
  systemd-update-utmp.service systemd-journal-flush.service systemd-logind.service \
  systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-modules-load.service \
  systemd-sysusers.service systemd-firstboot.service systemd-hwdb-update.service \
  systemd-pstore.service systemd-boot-system-token.service apparmor.service \
  e2scrub_reap.service cron.service ssh.service containerd.service docker.service \
  docker.socket podman.service podman.socket postgresql.service networking.service \
  ifupdown-pre.service systemd-ask-password-console.path systemd-ask-password-wall.path \
  dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
  sys-fs-fuse-connections.mount sys-kernel-config.mount tmp.mount; do
  ln -sf /dev/null "$etc/$u"
done
cat >"$etc/corral-vm.target" <<UNIT
[Unit]
Description=corral test VM
Requires=basic.target dbus.socket corral-vm-cmd.service
After=basic.target dbus.socket
AllowIsolate=yes
UNIT
cat >"$etc/corral-vm-cmd.service" <<UNIT
[Unit]
Description=corral test VM command
After=basic.target dbus.socket
Requires=dbus.socket

[Service]
Type=oneshot
Environment=HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStart=/bin/sh -c 'mkdir -p /dev/shm /dev/pts; sh "\$\$0"; echo "CORRAL-VM-EXIT=\$\$?"; systemctl poweroff -ff' $cmd
UNIT
ln -sf corral-vm.target "$etc/default.target"
