# shellcheck shell=sh
# hand-over: the debug stop, the kernel's file systems moved into the new root, switch_root.
ucvm_stage_hand_over() {
  [ "$UCVM_DEBUG" = 1 ] && ucvm_panic 'Debug mode: the OS is mounted at /root; leave the shell to boot it'
  [ -x /root/sbin/init ] || [ -L /root/sbin/init ] || ucvm_panic 'the snapshot has no /sbin/init'
  ucvm_info "starting $(readlink /root/sbin/init 2>/dev/null || echo /sbin/init)"
  for ucvm_fs in /dev /proc /sys /run; do
    mkdir -p "/root$ucvm_fs"
    mount --move "$ucvm_fs" "/root$ucvm_fs" || ucvm_warn "cannot move $ucvm_fs into the new root"
  done
  sync
  exec switch_root -c /dev/console /root /sbin/init
}
