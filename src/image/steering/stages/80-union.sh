# shellcheck shell=sh
# union: the writable layer over the snapshot (overlayfs: upper and work dir on the scratch
# disk), then both layers moved into the new root as /mnt/.ro and /mnt/.rw.
ucvm_stage_union() {
  mount -t overlay overlay \
    -o lowerdir=/root.ro,upperdir=/root.rw/persistent,workdir=/root.rw/work /root ||
    ucvm_panic 'cannot union the snapshot with the writable layer'
  chmod 755 /root
  mkdir -p /root/mnt/.ro /root/mnt/.rw
  mount --move /root.ro /root/mnt/.ro || ucvm_panic 'cannot move the snapshot into the new root'
  mount --move /root.rw /root/mnt/.rw || ucvm_panic 'cannot move the scratch disk into the new root'
  UCVM_LOG=/root/mnt/.rw/ulogs/boot.log
}
