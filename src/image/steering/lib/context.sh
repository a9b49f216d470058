# shellcheck shell=sh
# The machine's context (ucernvm.md §2.6, §2.10): on the first boot, the user data of the first
# source that has some, in this order: a NoCloud drive (label cidata), an OpenStack config drive
# (label config-2), a metadata service over HTTP (OpenStack, then EC2). The kernel command line
# is settings.sh's. Kept on the scratch disk's context/ and re-read from there on every later
# boot, which never looks at the sources again: user data changed later has no effect.
# Decisions:
# - metadata over HTTP with busybox wget under `timeout` (this busybox's wget has no -T: it
#   crashes on it), never through a proxy; the service is probed first (2 s), so a machine
#   without one waits once, not once per URL;
# - OpenStack before EC2: an OpenStack metadata service answers the EC2 paths too, EC2 never the
#   OpenStack ones, so this order names the cloud right;
# - a user-data URL that fails while the cloud's meta-data URL answers is a cloud found with no
#   user data: empty user data, the search stops;
# - a later boot parses the kept user data again (the scratch disk is the OS's to write: a kept
#   ucontext is not trusted) and checks the kept source name.
# Needs lib/userdata.sh and lib/disks.sh.

# ucvm_context_copy FROM TO: copies a regular file, never through a symbolic link; an absent
# FROM gives an empty TO.
ucvm_context_copy() {
  if [ -L "$1" ]; then
    echo "ucernvm: context: $1 is a symbolic link (ignored)" >&2
    : >"$2"
  elif [ -f "$1" ]; then
    cp "$1" "$2"
  else
    : >"$2"
  fi
}

# ucvm_context_from_dir DIR OUT: reads the context drive mounted at DIR: writes OUT/user-data
# (empty when the drive has none), OUT/meta-data (NoCloud) and OUT/source (ConfigDrive or
# NoCloud). Fails when DIR has neither layout.
ucvm_context_from_dir() {
  if [ -d "$1/openstack/latest" ]; then
    ucvm_context_copy "$1/openstack/latest/user_data" "$2/user-data" || return 1
    echo ConfigDrive >"$2/source"
  elif [ -e "$1/user-data" ] || [ -e "$1/meta-data" ]; then
    ucvm_context_copy "$1/user-data" "$2/user-data" || return 1
    ucvm_context_copy "$1/meta-data" "$2/meta-data" || return 1
    echo NoCloud >"$2/source"
  else
    return 1
  fi
}

# ucvm_context_drives OUT: the first drive labelled cidata, else the first labelled config-2
# (iso9660 volume id or vfat label, any case), mounted read-only and read with
# ucvm_context_from_dir. Fails when there is none.
ucvm_context_drives() {
  for ucvm_cv_want in CIDATA CONFIG-2; do
    for ucvm_cv_disk in $(ucvm_disks); do
      for ucvm_cv_name in "$ucvm_cv_disk" $(ucvm_partitions "$ucvm_cv_disk"); do
        ucvm_cv_dev=${UCVM_DEV:-/dev}/$ucvm_cv_name
        ucvm_cv_type=$(ucvm_probe "$ucvm_cv_dev" 2>/dev/null)
        case "$ucvm_cv_type" in iso9660 | vfat) ;; *) continue ;; esac
        [ "$(ucvm_fs_label "$ucvm_cv_dev" | tr 'a-z' 'A-Z')" = "$ucvm_cv_want" ] || continue
        ucvm_cv_dir=$(mktemp -d "${TMPDIR:-/tmp}/ucvm-context.XXXXXX") || return 1
        ucvm_cv_found=1
        if ucvm_mount_ro "$ucvm_cv_dev" "$ucvm_cv_type" "$ucvm_cv_dir"; then
          ucvm_context_from_dir "$ucvm_cv_dir" "$1" && ucvm_cv_found=0
          ucvm_umount "$ucvm_cv_dir"
        else
          echo "ucernvm: context: cannot mount $ucvm_cv_dev ($ucvm_cv_type)" >&2
        fi
        rmdir "$ucvm_cv_dir" 2>/dev/null
        if [ "$ucvm_cv_found" = 0 ]; then
          unset ucvm_cv_want ucvm_cv_disk ucvm_cv_name ucvm_cv_dev ucvm_cv_type ucvm_cv_dir ucvm_cv_found
          return 0
        fi
      done
    done
  done
  unset ucvm_cv_want ucvm_cv_disk ucvm_cv_name ucvm_cv_dev ucvm_cv_type ucvm_cv_dir ucvm_cv_found
  return 1
}

# ucvm_http_get URL FILE SECONDS: 0 when URL's body is in FILE, 1 when the server answered with
# an HTTP error, 2 when nothing answered within SECONDS.
ucvm_http_get() {
  rm -f "$2.part"
  if timeout "$3" wget -q -Y off -O "$2.part" "$1" 2>"$2.err"; then
    mv "$2.part" "$2"
    rm -f "$2.err"
    return 0
  fi
  ucvm_hg_status=2
  # busybox wget's words for an HTTP status that is an error.
  grep -q 'server returned error' "$2.err" 2>/dev/null && ucvm_hg_status=1
  rm -f "$2.part" "$2.err"
  return "$ucvm_hg_status"
}

# ucvm_context_http OUT: user data from the metadata service at $UCVM_METADATA_URL (default
# http://169.254.169.254): writes OUT/user-data and OUT/source (OpenStack or EC2). Fails when no
# service answers within $UCVM_METADATA_PROBE_TIMEOUT seconds (2), or none of its URLs do.
ucvm_context_http() {
  ucvm_ch_base=${UCVM_METADATA_URL:-http://169.254.169.254}
  ucvm_http_get "$ucvm_ch_base/" "$1/.probe" "${UCVM_METADATA_PROBE_TIMEOUT:-2}"
  if [ $? = 2 ]; then
    echo "ucernvm: context: no metadata service at $ucvm_ch_base" >&2
    unset ucvm_ch_base
    return 1
  fi
  rm -f "$1/.probe"
  for ucvm_ch_cloud in OpenStack EC2; do
    case "$ucvm_ch_cloud" in
      OpenStack) ucvm_ch_data=openstack/latest/user_data ucvm_ch_meta=openstack/latest/meta_data.json ;;
      EC2) ucvm_ch_data=latest/user-data ucvm_ch_meta=latest/meta-data/instance-id ;;
    esac
    ucvm_ch_found=1
    if ucvm_http_get "$ucvm_ch_base/$ucvm_ch_data" "$1/user-data" "${UCVM_METADATA_TIMEOUT:-16}"; then
      ucvm_ch_found=0
    elif ucvm_http_get "$ucvm_ch_base/$ucvm_ch_meta" "$1/.meta" "${UCVM_METADATA_TIMEOUT:-16}"; then
      rm -f "$1/.meta"
      : >"$1/user-data"
      ucvm_ch_found=0
    fi
    if [ "$ucvm_ch_found" = 0 ]; then
      echo "$ucvm_ch_cloud" >"$1/source"
      unset ucvm_ch_base ucvm_ch_cloud ucvm_ch_data ucvm_ch_meta ucvm_ch_found
      return 0
    fi
  done
  unset ucvm_ch_base ucvm_ch_cloud ucvm_ch_data ucvm_ch_meta ucvm_ch_found
  return 1
}

# ucvm_context_collect OUT: the first boot's context into OUT: user-data (as the source gave it),
# source (NoCloud, ConfigDrive, OpenStack, EC2 or none), ucontext (ucvm_parse_user_data's checked
# key=value lines), meta-data (NoCloud only). Prints the source. Fails only when OUT cannot be
# written: no source, or user data with unusable lines, is a message and the boot goes on.
ucvm_context_collect() {
  mkdir -p "$1" || return 1
  rm -f "$1/user-data" "$1/meta-data" "$1/source" "$1/ucontext"
  if ! ucvm_context_drives "$1" && ! ucvm_context_http "$1"; then
    : >"$1/user-data" || return 1
    echo none >"$1/source"
  fi
  ucvm_parse_user_data "$1/user-data" "$1/ucontext" || return 1
  cat "$1/source"
}

# ucvm_context_persist OUT KEPT: copies the first boot's context from OUT to KEPT (the scratch
# disk's context/), `source` last: a kept `source` means the rest is there.
ucvm_context_persist() {
  mkdir -p "$2" || return 1
  for ucvm_cp_file in user-data meta-data ucontext source; do
    [ -f "$1/$ucvm_cp_file" ] || continue
    if ! cp "$1/$ucvm_cp_file" "$2/.$ucvm_cp_file.new" ||
      ! mv "$2/.$ucvm_cp_file.new" "$2/$ucvm_cp_file"; then
      echo "ucernvm: context: cannot keep $ucvm_cp_file in $2" >&2
      unset ucvm_cp_file
      return 1
    fi
  done
  unset ucvm_cp_file
}

# ucvm_context_restore KEPT OUT: a later boot's context: the kept user data and meta-data copied
# to OUT, the source checked, ucontext parsed again from the user data. Prints the source. Fails
# when nothing was kept (a first boot that stopped before ucvm_context_persist): collect then.
ucvm_context_restore() {
  [ -f "$1/source" ] || return 1
  mkdir -p "$2" || return 1
  ucvm_cr_source=$(head -n 1 "$1/source" | tr -d '\r')
  case "$ucvm_cr_source" in
    NoCloud | ConfigDrive | OpenStack | EC2 | none) ;;
    *)
      echo "ucernvm: context: $1/source names no known source (taken as none)" >&2
      ucvm_cr_source=none
      ;;
  esac
  ucvm_context_copy "$1/user-data" "$2/user-data" || return 1
  rm -f "$2/meta-data"
  [ -f "$1/meta-data" ] && { ucvm_context_copy "$1/meta-data" "$2/meta-data" || return 1; }
  printf '%s\n' "$ucvm_cr_source" >"$2/source"
  ucvm_parse_user_data "$2/user-data" "$2/ucontext" || return 1
  printf '%s\n' "$ucvm_cr_source"
  unset ucvm_cr_source
}
