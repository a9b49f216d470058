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
# come back without downloads (ucernvm.md §2.14). Each entry is resolved inside the snapshot to
# the path the catalogs hold (the OS's own realpath, run in the read-only root), then pinned
# through the client's control socket. Done before switch_root rather than in the background
# as the original: a few dozen files the boot reads anyway, and nothing left running in the
# initramfs. The squashfs root has every file on the scratch disk already.
ucvm_pin_files() {
  [ -f /root/.ucernvm_pinfiles ] || return 0
  grep -q ' /root/mnt/.ro fuse' /proc/mounts || return 0
  command -v cvmfs_talk >/dev/null 2>&1 || {
    ucvm_warn 'the client has no cvmfs_talk: /.ucernvm_pinfiles not pinned'
    return 0
  }
  ucvm_pf_repo=$(ucvm_context_get /run/ucvm/settings cvmfs_branch)
  ucvm_pf_socket=/root/mnt/.rw/cache/$ucvm_pf_repo/cvmfs_io.$ucvm_pf_repo
  ucvm_pf_total=0
  ucvm_pf_pinned=0
  while read -r ucvm_pf_file; do
    case "$ucvm_pf_file" in /*) ;; *) continue ;; esac
    ucvm_pf_total=$((ucvm_pf_total + 1))
    ucvm_pf_real=$(chroot /root/mnt/.ro /usr/bin/realpath -e -- "$ucvm_pf_file" 2>/dev/null) || continue
    if timeout 30 cvmfs_talk -p "$ucvm_pf_socket" pin "$ucvm_pf_real" 2>/dev/null | grep -q '^OK'; then
      ucvm_pf_pinned=$((ucvm_pf_pinned + 1))
    else
      ucvm_log "not pinned: $ucvm_pf_file ($ucvm_pf_real)"
    fi
  done </root/.ucernvm_pinfiles
  touch /root/mnt/.rw/cache/pinned
  ucvm_info "pinned $ucvm_pf_pinned of $ucvm_pf_total files of /.ucernvm_pinfiles in the client cache"
  unset ucvm_pf_repo ucvm_pf_socket ucvm_pf_total ucvm_pf_pinned ucvm_pf_file ucvm_pf_real
}
