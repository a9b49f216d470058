# shellcheck shell=sh
# mount: the snapshot the machine is pinned to, or on a fresh boot the requested tag, which is
# then pinned (lib/pin.sh). Read-only, at /root.ro.
ucvm_stage_mount() {
  ucvm_mt_state=/root.rw/aux
  ucvm_request_force "$ucvm_mt_state" "$(ucvm_context_get /run/ucvm/settings force_tag)"
  ucvm_mt_default=$(ucvm_context_get /run/ucvm/settings cvmfs_tag)
  set -- $(ucvm_select_snapshot "$ucvm_mt_state" "${ucvm_mt_default:-HEAD}")
  ucvm_mt_source=$(ucvm_context_get /run/ucvm/settings root_source)
  ucvm_mt_repo=$(ucvm_context_get /run/ucvm/settings cvmfs_branch)
  if [ "$1" = pinned ]; then
    ucvm_info "mounting $ucvm_mt_repo at the pinned $2 ($3), from ${ucvm_mt_source:-cvmfs}"
    ucvm_mt_mounted=$(ucvm_mount_"${ucvm_mt_source:-cvmfs}" /run/ucvm/settings /root.rw pinned "$3" "$2" /root.ro)
  else
    ucvm_info "mounting $ucvm_mt_repo at $2, from ${ucvm_mt_source:-cvmfs}"
    ucvm_mt_mounted=$(ucvm_mount_"${ucvm_mt_source:-cvmfs}" /run/ucvm/settings /root.rw fresh "$2" '' /root.ro)
  fi || ucvm_panic "cannot mount $ucvm_mt_repo"
  set -- $ucvm_mt_mounted
  if [ -n "$1" ]; then
    ucvm_record_pin "$ucvm_mt_state" "$1" "$2" || ucvm_warn 'cannot record the pin'
    UCVM_ROOT_HASH=$1
    ucvm_info "snapshot $2, root hash $1"
  fi
  unset ucvm_mt_state ucvm_mt_default ucvm_mt_source ucvm_mt_repo ucvm_mt_mounted
}
