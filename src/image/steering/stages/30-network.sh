# shellcheck shell=sh
# network: every interface up, DHCP on the first one (sorted by name; more come up in the OS).
# Decision against the original: no fixed MTU of 1460; the lease's MTU option is applied
# (GCE sends one), and the kernel's default stays otherwise. No lease is not fatal: a
# configuration on the kernel command line or a squashfs root may not need the network.
ucvm_stage_network() {
  ip link set lo up
  ucvm_first=
  for ucvm_if in /sys/class/net/*; do
    ucvm_if=${ucvm_if##*/}
    [ "$ucvm_if" = lo ] && continue
    ip link set "$ucvm_if" up
    [ -n "$ucvm_first" ] || ucvm_first=$ucvm_if
  done
  if [ -z "$ucvm_first" ]; then
    ucvm_warn 'no network interface'
    return 0
  fi
  ucvm_run "DHCP on $ucvm_first" udhcpc -i "$ucvm_first" -n -q -f -t 10 -T 2 \
    -O mtu -O staticroutes -s /lib/ucvm/bin/udhcpc.script
  ucvm_log "$(ip addr; ip route; cat /etc/resolv.conf 2>/dev/null)"
  unset ucvm_if ucvm_first
}
