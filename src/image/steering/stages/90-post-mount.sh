# shellcheck shell=sh
# post-mount: what the OS needs from its boot loader (ucernvm.md §2.14): the client's process
# ids, the shutdown helper in /run/initramfs, the pinned files, the OS's bootstrap hook.
# Decisions: no kernel modules are copied into the writable layer (it would grow by one module
# tree per kernel, quirk 10): the OS runs with the drivers the init loaded. /tmp gets 1777.
ucvm_stage_post_mount() {
  : >/root/.cvmfs_pids
  for ucvm_proc in /proc/[0-9]*; do
    case "$(readlink "$ucvm_proc/exe" 2>/dev/null)" in
      */cvmfs2) echo "${ucvm_proc#/proc/}" >>/root/.cvmfs_pids ;;
    esac
  done
  mkdir -p /root/tmp /root/cvmfs && chmod 1777 /root/tmp
  ucvm_prepare_shutdown
  ucvm_pin_files
  if [ -f /root/.ucernvm_bootstrap ]; then
    ucvm_log 'sourcing /.ucernvm_bootstrap'
    # shellcheck disable=SC1091
    . /root/.ucernvm_bootstrap /root
  fi
  unset ucvm_proc
}

# systemd pivots back into /run/initramfs at the end of shutdown and runs its `shutdown`,
# which takes the union, the client and the scratch disk down cleanly (lib/shutdown.sh).
ucvm_prepare_shutdown() {
  mkdir -p /run/initramfs/bin
  cp /bin/busybox /run/initramfs/bin/busybox
  for ucvm_applet in sh mount umount sync sleep cat grep reboot poweroff halt echo; do
    ln -sf busybox "/run/initramfs/bin/$ucvm_applet"
  done
  cp /lib/ucvm/bin/shutdown /run/initramfs/shutdown
  chmod 755 /run/initramfs/shutdown
}

# The client keeps the listed files in its cache for good (never evicted), so the network can
# come back without downloads. The squashfs root has every file on the scratch disk already.
ucvm_pin_files() {
  [ -f /root/.ucernvm_pinfiles ] || return 0
  command -v cvmfs_talk >/dev/null 2>&1 || return 0
  grep -q ' /root/mnt/.ro fuse' /proc/mounts || return 0
  ucvm_repo=$(ucvm_context_get /run/ucvm/settings cvmfs_branch)
  (
    while read -r ucvm_file; do
      case "$ucvm_file" in /*) cvmfs_talk -p "/root/mnt/.rw/cache/$ucvm_repo/cvmfs_io.$ucvm_repo" \
        pin "$ucvm_file" >/dev/null 2>&1 ;; esac
    done </root/.ucernvm_pinfiles
    touch /root/mnt/.rw/cache/pinned
  ) &
  unset ucvm_repo
}
