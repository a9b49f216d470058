# shellcheck shell=sh
# The scratch disk: finding it, or making it on the first boot (ucernvm.md §2.5, §2.8). POSIX sh
# for busybox, plus util-linux's sfdisk and e2fsprogs' mkfs.ext4 and tune2fs. Devices are found in
# sysfs ($UCVM_SYSFS, default /sys) and read at $UCVM_DEV/<name> (default /dev); what a device
# holds is read from its bytes, so a regular file can stand in for a device.
# Decisions on the quirks of ucernvm.md §7:
# 1. No name patterns: the partitions of a disk are the subdirectories of /sys/block/<disk> that
#    have a `partition` file (vda1, nvme0n1p1, mmcblk0p1 alike); a name ending in a digit means
#    nothing (nvme0n1 is a disk).
# 2. Only a disk or partition that holds nothing is ever partitioned or formatted. It is "empty"
#    when no partition of it is in sysfs and its first MiB holds no known signature and is all
#    zero, except for a partition table with no partitions in it (a disk a cloud initialised with
#    an MBR or a GPT). A file system of any kind (also a whole-disk one), swap, LUKS, a table with
#    partitions, or any other byte that is not zero, is data. Unlike the original, an ext file
#    system is never wiped (Amazon's preformatted ext3 ephemeral disk): without mounting it we
#    cannot prove it holds nothing, so such a machine uses the boot disk's free space.
# 11. Removable disks (removable=1: CD/DVD drives, floppies, USB sticks) and CD/DVD drives (SCSI
#    type 5) are never taken as an empty scratch disk; read-only ones (ro=1, like OpenNebula's
#    context disk) never hold the scratch. The boot disk may be removable (an image written to a
#    USB stick) and then gets the scratch partition in its own free space.
# Disks without a `device` link (loop, ram, zram, device-mapper, md) are not machine disks and
# are ignored; that is an attribute too, not a name.

ucvm_scratch_min_mib=750
ucvm_scratch_margin_mib=20

# ucvm_attr FILE: the first line of a sysfs attribute, or nothing.
ucvm_attr() {
  head -n 1 "$1" 2>/dev/null
}

# ucvm_hex DEV OFFSET COUNT: those bytes as lower-case hex digits.
ucvm_hex() {
  dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | od -An -v -tx1 | tr -d ' \n'
}

# ucvm_text DEV OFFSET COUNT: those bytes without the NULs (for magic strings and labels).
ucvm_text() {
  dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | tr -d '\000'
}

# ucvm_zero DEV FROM TO: whether the bytes FROM to TO (multiples of 512) are zero or past the end.
ucvm_zero() {
  [ "$(dd if="$1" bs=512 skip=$(($2 / 512)) count=$((($3 - $2) / 512)) 2>/dev/null |
    tr -d '\000' | wc -c)" -eq 0 ]
}

# ucvm_disks: the names of the whole disks that have a medium, sorted; read-only and removable
# ones included (a context drive is often a CD).
ucvm_disks() {
  for ucvm_dk_dir in "${UCVM_SYSFS:-/sys}"/block/*; do
    [ -e "$ucvm_dk_dir/device" ] || continue
    [ "$(ucvm_attr "$ucvm_dk_dir/size")" -gt 0 ] 2>/dev/null || continue
    printf '%s\n' "${ucvm_dk_dir##*/}"
  done
  unset ucvm_dk_dir
}

# ucvm_block_devices: the disks that may become the scratch disk (writable, not removable, no
# CD/DVD drive), sorted by name.
ucvm_block_devices() {
  for ucvm_bd_disk in $(ucvm_disks); do
    ucvm_bd_dir="${UCVM_SYSFS:-/sys}/block/$ucvm_bd_disk"
    [ "$(ucvm_attr "$ucvm_bd_dir/ro")" = 1 ] && continue
    [ "$(ucvm_attr "$ucvm_bd_dir/removable")" = 1 ] && continue
    [ "$(ucvm_attr "$ucvm_bd_dir/device/type")" = 5 ] && continue
    printf '%s\n' "$ucvm_bd_disk"
  done
  unset ucvm_bd_disk ucvm_bd_dir
}

# ucvm_partitions DISK: the names of DISK's partitions, by partition number.
ucvm_partitions() {
  for ucvm_pt_file in "${UCVM_SYSFS:-/sys}/block/$1"/*/partition; do
    [ -f "$ucvm_pt_file" ] || continue
    ucvm_pt_dir=${ucvm_pt_file%/partition}
    printf '%s %s\n' "$(ucvm_attr "$ucvm_pt_file")" "${ucvm_pt_dir##*/}"
  done | sort -n | cut -d ' ' -f 2
  unset ucvm_pt_file ucvm_pt_dir
}

# ucvm_big_enough DISK [PARTITION]: whether sysfs gives it the scratch's minimum size (its
# `size` is in 512-byte sectors whatever the device's own sector size). A small empty partition,
# such as the gap a hybrid ISO's partition table has, is never taken for the scratch disk.
# (UCVM_CANDIDATE_MIN_MIB lowers the floor for the host tests' small disk images.)
ucvm_big_enough() {
  ucvm_be_size=$(ucvm_attr "${UCVM_SYSFS:-/sys}/block/$1${2:+/$2}/size")
  case "$ucvm_be_size" in '' | *[!0-9]*) ucvm_be_size=0 ;; esac
  [ "$ucvm_be_size" -ge $((${UCVM_CANDIDATE_MIN_MIB:-$ucvm_scratch_min_mib} * 2048)) ]
  ucvm_be_status=$?
  unset ucvm_be_size
  return "$ucvm_be_status"
}

# ucvm_writable DISK [PARTITION]: whether sysfs says the disk (and the partition) can be written.
ucvm_writable() {
  [ "$(ucvm_attr "${UCVM_SYSFS:-/sys}/block/$1/ro")" != 1 ] &&
    { [ -z "$2" ] || [ "$(ucvm_attr "${UCVM_SYSFS:-/sys}/block/$1/$2/ro")" != 1 ]; }
}

# ucvm_probe DEV: prints what DEV holds: luks, squashfs, xfs, iso9660, gpt, ext, btrfs, swap,
# vfat, mbr, unknown (bytes that are not zero: data we do not know) or empty (see the top).
# Fails when DEV cannot be read.
ucvm_probe() {
  if [ "$(dd if="$1" bs=512 count=1 2>/dev/null | wc -c)" -ne 512 ]; then
    echo "ucernvm: cannot read $1" >&2
    return 1
  fi
  case "$(ucvm_hex "$1" 0 6)" in
    4c554b53babe) echo luks; return 0 ;;
    68737173*) echo squashfs; return 0 ;;
    58465342*) echo xfs; return 0 ;;
  esac
  # Before the partition tables: a hybrid ISO has an MBR too, and is a file system.
  [ "$(ucvm_text "$1" 32769 5)" = CD001 ] && { echo iso9660; return 0; }
  if [ "$(ucvm_text "$1" 512 8)" = 'EFI PART' ]; then
    # The entries (LBA 2 on) and the rest of the first MiB zero: a GPT without partitions.
    ucvm_zero "$1" 1024 1048576 && { echo empty; return 0; }
    echo gpt
    return 0
  fi
  [ "$(ucvm_text "$1" 4096 8)" = 'EFI PART' ] && { echo gpt; return 0; }
  [ "$(ucvm_hex "$1" 1080 2)" = 53ef ] && { echo ext; return 0; }
  [ "$(ucvm_text "$1" 65600 8)" = _BHRfS_M ] && { echo btrfs; return 0; }
  for ucvm_pr_page in 4096 8192 16384 65536; do
    case "$(ucvm_text "$1" $((ucvm_pr_page - 10)) 10)" in
      SWAPSPACE2 | SWAP-SPACE) echo swap; unset ucvm_pr_page; return 0 ;;
    esac
  done
  unset ucvm_pr_page
  if [ "$(ucvm_hex "$1" 510 2)" = 55aa ]; then
    case "$(ucvm_text "$1" 54 3):$(ucvm_text "$1" 82 3)" in
      FAT:* | *:FAT) echo vfat; return 0 ;;
    esac
    case "$(ucvm_hex "$1" 446 64)" in
      *[!0]*) echo mbr; return 0 ;;
    esac
    # An MBR without partitions (boot code and disk signature at most).
    ucvm_zero "$1" 512 1048576 && { echo empty; return 0; }
    echo unknown
    return 0
  fi
  if ucvm_zero "$1" 0 1048576; then echo empty; else echo unknown; fi
}

# ucvm_ext_label DEV: prints the label of the ext2/3/4 file system on DEV; fails if there is none.
ucvm_ext_label() {
  [ "$(ucvm_hex "$1" 1080 2)" = 53ef ] || return 1
  printf '%s\n' "$(ucvm_text "$1" 1144 16)"
}

# ucvm_fs_label DEV: prints the label of an ext, iso9660 (volume id) or vfat file system on DEV.
ucvm_fs_label() {
  case "$(ucvm_probe "$1" 2>/dev/null)" in
    ext) ucvm_ext_label "$1" ;;
    iso9660) printf '%s\n' "$(ucvm_text "$1" 32808 32 | sed 's/ *$//')" ;;
    vfat)
      # The boot sector's label: at 71 on FAT32 (its type string at 82), at 43 on FAT12/16.
      ucvm_fl_at=43
      [ "$(ucvm_text "$1" 82 3)" = FAT ] && ucvm_fl_at=71
      ucvm_fl_label=$(ucvm_text "$1" "$ucvm_fl_at" 11 | sed 's/ *$//')
      [ "$ucvm_fl_label" = 'NO NAME' ] && ucvm_fl_label=
      printf '%s\n' "$ucvm_fl_label"
      unset ucvm_fl_at ucvm_fl_label
      ;;
    *) return 1 ;;
  esac
}

# ucvm_mount_ro DEV TYPE DIR / ucvm_umount DIR: the only mounts here (host tests replace them).
ucvm_mount_ro() {
  mount -t "$2" -o ro "$1" "$3" 2>/dev/null
}
ucvm_umount() {
  umount "$1" 2>/dev/null
}

# ucvm_has_boot_sentinel DEV TYPE: whether the file system on DEV holds /.ucernvm_boot_loader.
ucvm_has_boot_sentinel() {
  ucvm_hs_dir=$(mktemp -d "${TMPDIR:-/tmp}/ucvm-boot.XXXXXX") || return 1
  ucvm_hs_found=1
  if ucvm_mount_ro "$1" "$2" "$ucvm_hs_dir"; then
    [ -e "$ucvm_hs_dir/.ucernvm_boot_loader" ] && ucvm_hs_found=0
    ucvm_umount "$ucvm_hs_dir"
  fi
  rmdir "$ucvm_hs_dir" 2>/dev/null
  unset ucvm_hs_dir
  return "$ucvm_hs_found"
}

# ucvm_boot_disk: prints the name of the disk that holds the boot image: a disk or partition with
# an iso9660 or vfat file system labelled UCERNVM (read from its bytes), else one holding the
# sentinel file. Fails when there is none (booted over the network, or from a kernel alone).
ucvm_boot_disk() {
  for ucvm_bt_disk in $(ucvm_disks); do
    for ucvm_bt_name in "$ucvm_bt_disk" $(ucvm_partitions "$ucvm_bt_disk"); do
      ucvm_bt_dev="${UCVM_DEV:-/dev}/$ucvm_bt_name"
      ucvm_bt_type=$(ucvm_probe "$ucvm_bt_dev" 2>/dev/null)
      case "$ucvm_bt_type" in iso9660 | vfat) ;; *) continue ;; esac
      if [ "$(ucvm_fs_label "$ucvm_bt_dev")" = UCERNVM ] ||
        ucvm_has_boot_sentinel "$ucvm_bt_dev" "$ucvm_bt_type"; then
        printf '%s\n' "$ucvm_bt_disk"
        unset ucvm_bt_disk ucvm_bt_name ucvm_bt_dev ucvm_bt_type
        return 0
      fi
    done
  done
  unset ucvm_bt_disk ucvm_bt_name ucvm_bt_dev ucvm_bt_type
  return 1
}

# ucvm_find_scratch LABEL: prints the device of the writable ext file system labelled LABEL
# (default UROOT), a whole disk or a partition; fails when there is none (the first boot).
ucvm_find_scratch() {
  ucvm_fs_want=${1:-UROOT}
  for ucvm_fs_disk in $(ucvm_disks); do
    ucvm_writable "$ucvm_fs_disk" || continue
    for ucvm_fs_name in "$ucvm_fs_disk" $(ucvm_partitions "$ucvm_fs_disk"); do
      [ "$ucvm_fs_name" = "$ucvm_fs_disk" ] || ucvm_writable "$ucvm_fs_disk" "$ucvm_fs_name" ||
        continue
      if [ "$(ucvm_ext_label "${UCVM_DEV:-/dev}/$ucvm_fs_name")" = "$ucvm_fs_want" ]; then
        printf '%s\n' "${UCVM_DEV:-/dev}/$ucvm_fs_name"
        unset ucvm_fs_want ucvm_fs_disk ucvm_fs_name
        return 0
      fi
    done
  done
  unset ucvm_fs_want ucvm_fs_disk ucvm_fs_name
  return 1
}

# ucvm_find_empty_disk [BOOT_DISK]: prints the name of the first disk that may become the
# scratch disk, has no partitions and probes empty, and is not the boot disk (found when not
# given); fails when there is none.
ucvm_find_empty_disk() {
  if [ $# -ge 1 ]; then ucvm_ed_boot=$1; else ucvm_ed_boot=$(ucvm_boot_disk); fi
  for ucvm_ed_disk in $(ucvm_block_devices); do
    [ "$ucvm_ed_disk" = "$ucvm_ed_boot" ] && continue
    [ -z "$(ucvm_partitions "$ucvm_ed_disk")" ] || continue
    ucvm_big_enough "$ucvm_ed_disk" || continue
    [ "$(ucvm_probe "${UCVM_DEV:-/dev}/$ucvm_ed_disk" 2>/dev/null)" = empty ] || continue
    printf '%s\n' "$ucvm_ed_disk"
    unset ucvm_ed_boot ucvm_ed_disk
    return 0
  done
  unset ucvm_ed_boot ucvm_ed_disk
  return 1
}

# ucvm_find_empty_partition [BOOT_DISK]: prints "DISK PARTITION" of the first writable partition
# that probes empty, on a disk that may become the scratch disk or on the boot disk (a first boot
# that stopped between partitioning and formatting left it); fails when there is none.
ucvm_find_empty_partition() {
  if [ $# -ge 1 ]; then ucvm_ep_boot=$1; else ucvm_ep_boot=$(ucvm_boot_disk); fi
  for ucvm_ep_disk in $(ucvm_block_devices) $ucvm_ep_boot; do
    ucvm_writable "$ucvm_ep_disk" || continue
    for ucvm_ep_part in $(ucvm_partitions "$ucvm_ep_disk"); do
      ucvm_writable "$ucvm_ep_disk" "$ucvm_ep_part" || continue
      ucvm_big_enough "$ucvm_ep_disk" "$ucvm_ep_part" || continue
      [ "$(ucvm_probe "${UCVM_DEV:-/dev}/$ucvm_ep_part" 2>/dev/null)" = empty ] || continue
      printf '%s %s\n' "$ucvm_ep_disk" "$ucvm_ep_part"
      unset ucvm_ep_boot ucvm_ep_disk ucvm_ep_part
      return 0
    done
  done
  unset ucvm_ep_boot ucvm_ep_disk ucvm_ep_part
  return 1
}

# ucvm_size_bytes DEV: the size of a block device or of an image file.
ucvm_size_bytes() {
  if [ -b "$1" ]; then blockdev --getsize64 "$1"; else stat -L -c %s "$1"; fi
}

# ucvm_free_space DISK: prints "START SIZE" (in DISK's sectors) of the partition the scratch can
# have after DISK's last partition: start aligned to 1 MiB, the last 20 MiB left free. Fails with
# a message when that is less than 750 MiB or DISK has no partition table. On a GPT whose backup
# header is not at the end of the disk, the space after it is not counted (see
# ucvm_append_partition).
ucvm_free_space() {
  ucvm_fr_dump=$(sfdisk --dump "$1" 2>/dev/null) || {
    echo "ucernvm: scratch: $1 has no partition table to add a partition to" >&2
    return 1
  }
  ucvm_fr_sector=$(printf '%s\n' "$ucvm_fr_dump" | sed -n 's/^sector-size: *//p')
  ucvm_fr_sector=${ucvm_fr_sector:-512}
  ucvm_fr_last=$(printf '%s\n' "$ucvm_fr_dump" |
    sed -n 's/.* start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p' |
    awk '{ if ($1 + $2 > m) m = $1 + $2 } END { printf "%.0f\n", m }')
  # sfdisk -F lists the free regions under a "Start End Sectors Size" heading: the last one that
  # starts after the last partition.
  ucvm_fr_region=$(sfdisk -F "$1" 2>/dev/null | awk -v last="$ucvm_fr_last" \
    '$1 == "Start" { t = 1; next } t && $1 >= last { r = $1 " " $2 } END { print r }')
  ucvm_fr_grain=$((1048576 / ucvm_fr_sector))
  ucvm_fr_start=0
  ucvm_fr_end=0
  if [ -n "$ucvm_fr_region" ]; then
    ucvm_fr_start=$((((${ucvm_fr_region% *} + ucvm_fr_grain - 1) / ucvm_fr_grain) * ucvm_fr_grain))
    ucvm_fr_end=$((${ucvm_fr_region#* } + 1 - ucvm_scratch_margin_mib * ucvm_fr_grain))
  fi
  # A DOS table addresses 2^32 sectors.
  if printf '%s\n' "$ucvm_fr_dump" | grep -q '^label: dos' && [ "$ucvm_fr_end" -gt 4294967295 ]; then
    ucvm_fr_end=4294967295
  fi
  ucvm_fr_size=$((ucvm_fr_end - ucvm_fr_start))
  [ "$ucvm_fr_size" -lt 0 ] && ucvm_fr_size=0
  if [ "$ucvm_fr_size" -lt $((ucvm_scratch_min_mib * ucvm_fr_grain)) ]; then
    echo "ucernvm: scratch: only $((ucvm_fr_size / ucvm_fr_grain)) MiB free after the last partition of $1 (with a $ucvm_scratch_margin_mib MiB margin); the scratch needs $ucvm_scratch_min_mib MiB: attach an empty disk, or enlarge this one" >&2
    return 1
  fi
  printf '%s %s\n' "$ucvm_fr_start" "$ucvm_fr_size"
  unset ucvm_fr_dump ucvm_fr_sector ucvm_fr_last ucvm_fr_end ucvm_fr_region ucvm_fr_grain \
    ucvm_fr_start ucvm_fr_size
}

# ucvm_partition_number DISK START: prints the number of DISK's partition that starts at START.
ucvm_partition_number() {
  ucvm_pn_node=$(sfdisk --dump "$1" 2>/dev/null | sed -n "s/^\([^ ]*\) : start= *$2,.*/\1/p")
  # sfdisk names partitions DISK<n> or DISKp<n>.
  ucvm_pn_number=${ucvm_pn_node#"$1"}
  ucvm_pn_number=${ucvm_pn_number#p}
  case "$ucvm_pn_number" in
    '' | *[!0-9]*) unset ucvm_pn_node ucvm_pn_number; return 1 ;;
  esac
  printf '%s\n' "$ucvm_pn_number"
  unset ucvm_pn_node ucvm_pn_number
}

# ucvm_partition_disk DISK: writes a new partition table on the empty DISK (a device or an image
# file) with one Linux partition spanning it; prints its number (1). DOS below 2 TiB (what every
# firmware, hypervisor and the original's busybox fdisk read), GPT from 2 TiB, which DOS cannot
# address with 512-byte sectors.
ucvm_partition_disk() {
  ucvm_pd_bytes=$(ucvm_size_bytes "$1") || return 1
  ucvm_pd_label=dos
  [ "$ucvm_pd_bytes" -ge 2199023255552 ] && ucvm_pd_label=gpt
  # An MBR or GPT without partitions may be there (a disk a cloud initialised): --wipe clears
  # them, but not a GPT's backup in the last 33 sectors, which would then look damaged.
  if [ "$(ucvm_text "$1" 512 8)" = 'EFI PART' ]; then
    dd if=/dev/zero of="$1" bs=512 seek=$((ucvm_pd_bytes / 512 - 33)) count=33 conv=notrunc \
      2>/dev/null
  fi
  if ! printf 'label: %s\n,,L\n' "$ucvm_pd_label" |
    sfdisk -q --wipe always --wipe-partitions always "$1" >/dev/null; then
    echo "ucernvm: scratch: sfdisk could not partition $1" >&2
    unset ucvm_pd_bytes ucvm_pd_label
    return 1
  fi
  unset ucvm_pd_bytes ucvm_pd_label
  echo 1
}

# ucvm_append_partition DISK: adds a Linux partition in the free space after DISK's last partition
# (ucvm_free_space); prints its number. A GPT's backup header is moved to the end of the disk
# first (a small image written to a larger disk leaves it in the middle).
ucvm_append_partition() {
  if sfdisk --dump "$1" 2>/dev/null | grep -q '^label: gpt'; then
    sfdisk -q --relocate gpt-bak-std "$1" >/dev/null 2>&1 || {
      echo "ucernvm: scratch: cannot move the backup GPT of $1 to its end" >&2
      return 1
    }
  fi
  ucvm_ap_space=$(ucvm_free_space "$1") || return 1
  ucvm_ap_start=${ucvm_ap_space% *}
  if ! printf 'start=%s, size=%s, type=L\n' "$ucvm_ap_start" "${ucvm_ap_space#* }" |
    sfdisk -q --append "$1" >/dev/null; then
    echo "ucernvm: scratch: sfdisk could not add a partition to $1 (no free slot in its table?)" >&2
    unset ucvm_ap_space ucvm_ap_start
    return 1
  fi
  ucvm_partition_number "$1" "$ucvm_ap_start"
  ucvm_ap_status=$?
  unset ucvm_ap_space ucvm_ap_start
  return "$ucvm_ap_status"
}

# ucvm_reread_partitions DISK: asks the kernel to read DISK's new table. sfdisk has told it
# already (it does so itself, also for a disk in use); this is the fallback, allowed to fail.
ucvm_reread_partitions() {
  [ -b "${UCVM_DEV:-/dev}/$1" ] && blockdev --rereadpt "${UCVM_DEV:-/dev}/$1" 2>/dev/null
  return 0
}

# ucvm_partition_device DISK NUMBER: prints the device of DISK's partition NUMBER, found by its
# `partition` file in sysfs, waiting up to $UCVM_PARTITION_WAIT seconds (default 5) for the
# kernel to add it and devtmpfs to make its node; fails when it does not appear.
ucvm_partition_device() {
  ucvm_reread_partitions "$1"
  ucvm_pd_tries=$((${UCVM_PARTITION_WAIT:-5} * 10))
  while :; do
    for ucvm_pd_file in "${UCVM_SYSFS:-/sys}/block/$1"/*/partition; do
      [ "$(ucvm_attr "$ucvm_pd_file")" = "$2" ] || continue
      ucvm_pd_name=${ucvm_pd_file%/partition}
      ucvm_pd_name=${ucvm_pd_name##*/}
      if [ -e "${UCVM_DEV:-/dev}/$ucvm_pd_name" ]; then
        printf '%s\n' "${UCVM_DEV:-/dev}/$ucvm_pd_name"
        unset ucvm_pd_tries ucvm_pd_file ucvm_pd_name
        return 0
      fi
    done
    [ "$ucvm_pd_tries" -gt 0 ] || break
    ucvm_pd_tries=$((ucvm_pd_tries - 1))
    usleep 100000
  done
  echo "ucernvm: scratch: the kernel shows no partition $2 of $1" >&2
  unset ucvm_pd_tries ucvm_pd_file ucvm_pd_name
  return 1
}

# ucvm_make_scratch_fs DEV LABEL: an ext4 file system labelled LABEL on DEV (a device or an image
# file), inode tables initialised lazily, no periodic fsck. e2fsprogs' mke2fs is called as
# mkfs.ext4: busybox sh runs its own applet of a name before PATH, and busybox's mke2fs has no
# -t or -E.
ucvm_make_scratch_fs() {
  case "$2" in
    '' | *[!A-Za-z0-9_-]* | ?????????????????*)
      echo "ucernvm: scratch: not a file system label: $2" >&2
      return 1
      ;;
  esac
  mkfs.ext4 -t ext4 -L "$2" -F -q -E lazy_itable_init=1 "$1" >/dev/null || {
    echo "ucernvm: scratch: mkfs.ext4 failed on $1" >&2
    return 1
  }
  tune2fs -c 0 -i 0 "$1" >/dev/null || {
    echo "ucernvm: scratch: tune2fs failed on $1" >&2
    return 1
  }
}

# ucvm_prepare_scratch LABEL [USE_BOOTHD]: the first boot's scratch: an empty disk partitioned
# (skipped when USE_BOOTHD is 1), else an empty partition, else a new partition in the boot disk's
# free space; formatted with LABEL (default UROOT). Prints the device; fails with a message.
ucvm_prepare_scratch() {
  ucvm_ps_boot=$(ucvm_boot_disk) || ucvm_ps_boot=
  ucvm_ps_number=
  if [ "$2" != 1 ] && ucvm_ps_disk=$(ucvm_find_empty_disk "$ucvm_ps_boot"); then
    echo "ucernvm: scratch: partitioning the empty disk $ucvm_ps_disk" >&2
    ucvm_ps_number=$(ucvm_partition_disk "${UCVM_DEV:-/dev}/$ucvm_ps_disk") || return 1
  elif ucvm_ps_found=$(ucvm_find_empty_partition "$ucvm_ps_boot"); then
    ucvm_ps_disk=${ucvm_ps_found% *}
    ucvm_ps_part=${UCVM_DEV:-/dev}/${ucvm_ps_found#* }
  elif [ -n "$ucvm_ps_boot" ] && ucvm_writable "$ucvm_ps_boot"; then
    ucvm_ps_disk=$ucvm_ps_boot
    echo "ucernvm: scratch: adding a partition to the boot disk $ucvm_ps_disk" >&2
    ucvm_ps_number=$(ucvm_append_partition "${UCVM_DEV:-/dev}/$ucvm_ps_disk") || return 1
  else
    echo "ucernvm: scratch: no empty disk, no empty partition, and no writable boot disk to add a partition to: attach an empty disk of at least $ucvm_scratch_min_mib MiB" >&2
    return 1
  fi
  if [ -n "$ucvm_ps_number" ]; then
    ucvm_ps_part=$(ucvm_partition_device "$ucvm_ps_disk" "$ucvm_ps_number") || return 1
  fi
  ucvm_make_scratch_fs "$ucvm_ps_part" "${1:-UROOT}" || return 1
  printf '%s\n' "$ucvm_ps_part"
  unset ucvm_ps_boot ucvm_ps_number ucvm_ps_disk ucvm_ps_found ucvm_ps_part
}

# ucvm_scratch_layout ROOT: the folders of the mounted scratch file system; idempotent.
# persistent/ and work/ are the overlay's upper and work directories (one file system, as overlayfs
# needs), cache/ the CernVM-FS client cache, aux/ state and pins, context/ the first boot's
# context, ulogs/ the boot logs, cvmfs/ the OS's /cvmfs, images/ downloaded squashfs root images.
ucvm_scratch_layout() {
  for ucvm_sl_dir in persistent work cache aux context ulogs cvmfs images; do
    mkdir -p "$1/$ucvm_sl_dir" || { unset ucvm_sl_dir; return 1; }
  done
  unset ucvm_sl_dir
}
