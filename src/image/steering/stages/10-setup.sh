# shellcheck shell=sh
# setup: the kernel's file systems, the settings of the kernel command line, the banner.
ucvm_stage_setup() {
  mkdir -p /proc /sys /dev /run /tmp
  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
  mkdir -p /run/ucvm
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev 2>/dev/null
  mkdir -p /dev/pts
  mount -t devpts devpts /dev/pts
  ln -sf /proc/mounts /etc/mtab
  mkdir -p /root /root.ro /root.rw
  echo
  echo "Welcome to $(cat /version)"
  ucvm_parse_cmdline "$(cat /proc/cmdline)" /run/ucvm/cmdline
  UCVM_PANIC=$(ucvm_context_get /run/ucvm/cmdline panic)
  UCVM_DEBUG=$(ucvm_context_get /run/ucvm/cmdline debug)
}
