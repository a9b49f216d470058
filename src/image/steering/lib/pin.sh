# shellcheck shell=sh
# Which snapshot a boot mounts (ucernvm.md §2.11, "pinning state"). On the scratch disk's state
# directory: `snapshot` holds the root hash and the tag a machine was pinned to (two lines),
# `force-tag` a tag someone asked to switch to. Decisions against the original:
# - a forced tag is cleared once it has been mounted and pinned (the original kept it, so every
#   boot re-ran as fresh);
# - a damaged pin file is a console message and a fresh boot, not a mount of garbage.

# ucvm_select_snapshot STATE DEFAULT_TAG: prints "pinned <hash> <tag>" or "fresh <tag>".
ucvm_select_snapshot() {
  if [ -s "$1/force-tag" ]; then
    ucvm_forced=$(head -n 1 "$1/force-tag" | tr -d '\r')
    if ucvm_context_value cvmfs_tag "$ucvm_forced" >/dev/null 2>&1; then
      echo "fresh $ucvm_forced"
      unset ucvm_forced
      return 0
    fi
    echo "ucernvm: $1/force-tag does not name a tag; ignored" >&2
  fi
  if [ -s "$1/snapshot" ]; then
    ucvm_hash=$(sed -n 1p "$1/snapshot")
    ucvm_tag=$(sed -n 2p "$1/snapshot")
    case "$ucvm_hash" in
      '' | *[!0-9a-f]*) ucvm_hash= ;;
    esac
    if [ ${#ucvm_hash} -ge 40 ] && ucvm_context_value cvmfs_tag "$ucvm_tag" >/dev/null 2>&1; then
      echo "pinned $ucvm_hash $ucvm_tag"
      unset ucvm_hash ucvm_tag
      return 0
    fi
    echo "ucernvm: $1/snapshot is damaged; booting $2 afresh" >&2
  fi
  echo "fresh $2"
  unset ucvm_hash ucvm_tag ucvm_forced
}

# ucvm_record_pin STATE HASH TAG: pins the machine to what it mounted, then clears a forced tag.
ucvm_record_pin() {
  case "$2" in
    '' | *[!0-9a-f]*)
      echo "ucernvm: the mounted root hash is not a hash: $2" >&2
      return 1
      ;;
  esac
  printf '%s\n%s\n' "$2" "$3" >"$1/snapshot.new" && mv "$1/snapshot.new" "$1/snapshot" || return 1
  [ -s "$1/force-tag" ] && head -n 1 "$1/force-tag" >"$1/force-tag.applied"
  rm -f "$1/force-tag"
  # On disk now: a machine powered off right after boot must come back on the same snapshot
  # (a new file's data waits for writeback long after its rename is committed).
  sync
}

# ucvm_request_force STATE TAG: a tag forced on the kernel command line (ucvm.force_tag)
# applies once. A boot entry keeps carrying it, so it is not forced again while it is the last
# one applied (force-tag.applied); another tag, or the OS writing force-tag, switches again.
ucvm_request_force() {
  [ -n "$2" ] || return 0
  if [ -f "$1/force-tag.applied" ] && [ "$(cat "$1/force-tag.applied")" = "$2" ]; then
    return 0
  fi
  printf '%s\n' "$2" >"$1/force-tag"
}
