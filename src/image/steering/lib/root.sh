# shellcheck shell=sh
# Where the read-only layer comes from. `cvmfs`: the CernVM-FS client mounts the repository at
# the selected revision (root hash) or tag, through the proxy, verifying every object against
# the repository's signature. `squashfs`: an image of the snapshot exported by
# `ucvm repo export --shelf`, fetched over HTTP through the same proxy into the scratch disk
# and loop-mounted; for sites without a client. Its index (`<server>/exports/tags`, lines
# "<tag> <root hash> <sha256> <bytes>") is not signed: the image's SHA-256 is checked against
# it, so this path trusts the network it runs on. Needs lib/log.sh and lib/settings.sh.

# ucvm_first_server SETTINGS: the first server URL of the settings, @fqrn@ filled in.
ucvm_first_server() {
  ucvm_repo=$(ucvm_context_get "$1" cvmfs_branch)
  ucvm_one=$(ucvm_context_get "$1" cvmfs_server)
  ucvm_one=${ucvm_one%%,*}
  case "$ucvm_one" in
    http://* | https://*) ;;
    *) ucvm_one="http://$ucvm_one/cvmfs/@fqrn@" ;;
  esac
  printf '%s\n' "$ucvm_one" | sed "s/@fqrn@/$ucvm_repo/g"
  unset ucvm_repo ucvm_one
}

# ucvm_http_proxy SETTINGS: the first proxy of the CernVM-FS proxy list, or nothing (DIRECT).
ucvm_http_proxy() {
  ucvm_proxy=$(ucvm_context_get "$1" cvmfs_http_proxy)
  ucvm_proxy=${ucvm_proxy%%;*}
  ucvm_proxy=${ucvm_proxy%%|*}
  case "$ucvm_proxy" in
    '' | DIRECT | auto) ;;
    http://*) printf '%s\n' "$ucvm_proxy" ;;
    *) printf 'http://%s\n' "$ucvm_proxy" ;;
  esac
  unset ucvm_proxy
}

# ucvm_fetch SETTINGS URL OUT [SECONDS]: one HTTP GET through the settings' proxy, bounded
# in time (default 30 s; busybox wget's own -T crashes this busybox, so `timeout` bounds it).
ucvm_fetch() {
  ucvm_via=$(ucvm_http_proxy "$1")
  if [ -n "$ucvm_via" ]; then
    http_proxy=$ucvm_via timeout "${4:-30}" wget -q -O "$3" "$2"
  else
    timeout "${4:-30}" wget -q -O "$3" "$2"
  fi
}

# ucvm_shelf_entry INDEX FIELD VALUE: the index line whose FIELD (1 tag, 2 hash) is VALUE.
ucvm_shelf_entry() {
  while read -r ucvm_tag ucvm_hash ucvm_sha ucvm_size; do
    case "$2" in
      1) [ "$ucvm_tag" = "$3" ] || continue ;;
      2) [ "$ucvm_hash" = "$3" ] || continue ;;
    esac
    case "$ucvm_hash$ucvm_sha" in *[!0-9a-f]*) continue ;; esac
    case "$ucvm_size" in '' | *[!0-9]*) continue ;; esac
    printf '%s %s %s %s\n' "$ucvm_tag" "$ucvm_hash" "$ucvm_sha" "$ucvm_size"
    return 0
  done <"$1"
  return 1
}

# ucvm_mount_squashfs SETTINGS SCRATCH MODE TAG [HASH] MOUNTPOINT: prints "<hash> <tag>".
ucvm_mount_squashfs() {
  ucvm_shelf="$(ucvm_first_server "$1")/exports"
  ucvm_index=/run/ucvm/shelf-tags
  ucvm_fetch "$1" "$ucvm_shelf/tags" "$ucvm_index" ||
    { ucvm_warn "cannot fetch $ucvm_shelf/tags"; : >"$ucvm_index"; }
  if [ "$3" = pinned ]; then
    ucvm_entry=$(ucvm_shelf_entry "$ucvm_index" 2 "$5") || ucvm_entry="$4 $5 - -"
  else
    ucvm_entry=$(ucvm_shelf_entry "$ucvm_index" 1 "$4") || {
      echo "ucernvm: the shelf $ucvm_shelf has no image of tag $4" >&2
      return 1
    }
  fi
  set -- "$1" "$2" "$3" "$4" "$5" "$6" $ucvm_entry
  ucvm_image="$2/images/$8.squashfs"
  if [ ! -f "$ucvm_image" ]; then
    [ "$9" = - ] && { echo "ucernvm: no image of the pinned root hash $8 here or on the shelf" >&2; return 1; }
    ucvm_fetch "$1" "$ucvm_shelf/$8.squashfs" "$ucvm_image.part" 1800 ||
      { echo "ucernvm: cannot fetch $ucvm_shelf/$8.squashfs" >&2; rm -f "$ucvm_image.part"; return 1; }
    if [ "$(sha256sum "$ucvm_image.part" | cut -d' ' -f1)" != "$9" ]; then
      echo "ucernvm: $ucvm_shelf/$8.squashfs does not have the SHA-256 of the index" >&2
      rm -f "$ucvm_image.part"
      return 1
    fi
    mv "$ucvm_image.part" "$ucvm_image"
  fi
  mount -t squashfs -o loop,ro "$ucvm_image" "$6" || return 1
  # Only the mounted image is kept: older ones would fill the scratch disk version by version.
  for ucvm_old in "$2"/images/*.squashfs; do
    [ "$ucvm_old" = "$ucvm_image" ] || rm -f "$ucvm_old"
  done
  # A pinned machine stays on the tag it was pinned with, whatever other tags the image has.
  [ "$3" = pinned ] && printf '%s %s\n' "$8" "$4" || printf '%s %s\n' "$8" "$7"
  unset ucvm_shelf ucvm_index ucvm_entry ucvm_image ucvm_old
}

# ucvm_mount_cvmfs SETTINGS SCRATCH MODE TAG [HASH] MOUNTPOINT: prints "<hash> <tag>".
ucvm_mount_cvmfs() {
  # Its own variable names: ucvm_client_config (lib/settings.sh) unsets the ones it uses.
  ucvm_mc_repo=$(ucvm_context_get "$1" cvmfs_branch)
  ucvm_mc_config=/etc/cvmfs/config.d/$ucvm_mc_repo.conf
  mkdir -p /etc/cvmfs/config.d "$2/cache"
  # The tag to mount goes into the settings the configuration is written from.
  grep -v '^cvmfs_tag=' "$1" >/run/ucvm/mount-settings
  echo "cvmfs_tag=$4" >>/run/ucvm/mount-settings
  [ "$3" = pinned ] && ucvm_mc_pin=$5 || ucvm_mc_pin=
  ucvm_client_config /run/ucvm/mount-settings "$2/cache" "/etc/cvmfs/keys/$ucvm_mc_repo" $ucvm_mc_pin \
    >"$ucvm_mc_config" || return 1
  # The cache quota of the original (ucernvm.md §2.11): 2000 MB, or half of a small scratch disk.
  # With a quota the client keeps pinned files for good (post-mount pins the OS's list).
  ucvm_mc_mib=$(df -m "$2" | awk 'NR == 2 { print $2 }')
  case "$ucvm_mc_mib" in '' | *[!0-9]*) ucvm_mc_mib=4000 ;; esac
  [ "$ucvm_mc_mib" -gt 4000 ] && ucvm_mc_mib=2000 || ucvm_mc_mib=$((ucvm_mc_mib / 2))
  echo "CVMFS_QUOTA_LIMIT=$ucvm_mc_mib" >>"$ucvm_mc_config"
  ucvm_log "$(cat "$ucvm_mc_config")"
  if ! cvmfs2 -o "allow_other,config=$ucvm_mc_config" "$ucvm_mc_repo" "$6" >/run/ucvm/cvmfs2.out 2>&1; then
    # Why, on the console: the client's own words and its log.
    cat /run/ucvm/cvmfs2.out >&2
    [ -f "$2/cache/usyslog" ] && tail -n 20 "$2/cache/usyslog" >&2
    cat /run/ucvm/cvmfs2.out >>"$UCVM_LOG"
    return 1
  fi
  cat /run/ucvm/cvmfs2.out >>"$UCVM_LOG"
  ucvm_mc_hash=$(getfattr --only-values -n user.root_hash "$6" 2>/dev/null)
  case "$ucvm_mc_hash" in
    '' | *[!0-9a-f]*) echo "ucernvm: cannot read the root hash of the mounted repository" >&2; return 1 ;;
  esac
  printf '%s %s\n' "$ucvm_mc_hash" "$4"
  unset ucvm_mc_repo ucvm_mc_config ucvm_mc_pin ucvm_mc_hash ucvm_mc_mib
}
