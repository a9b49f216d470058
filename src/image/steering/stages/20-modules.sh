# shellcheck shell=sh
# modules: the drivers the init needs, in the order the image build computed from modules.dep
# (dependencies first). Built-in drivers need nothing; a module that is already loaded is fine.
ucvm_stage_modules() {
  ucvm_list=/lib/modules/$(uname -r)/ucvm.load
  [ -f "$ucvm_list" ] || return 0
  while read -r ucvm_module; do
    [ -n "$ucvm_module" ] || continue
    insmod "/lib/modules/$(uname -r)/$ucvm_module" 2>>"$UCVM_LOG" ||
      ucvm_log "insmod $ucvm_module failed (built in, or loaded already?)"
  done <"$ucvm_list"
  # Let the block and network devices of the loaded drivers appear.
  ucvm_wait_for 5 ucvm_have_block_devices
  unset ucvm_list ucvm_module
}

ucvm_have_block_devices() {
  for ucvm_dev in /sys/block/*; do
    case "${ucvm_dev##*/}" in loop* | ram* | zram*) continue ;; esac
    return 0
  done
  return 1
}

# ucvm_wait_for SECONDS COMMAND...: polls every 0.1 s until the command succeeds.
ucvm_wait_for() {
  ucvm_tries=$(($1 * 10))
  shift
  while [ "$ucvm_tries" -gt 0 ]; do
    "$@" && return 0
    usleep 100000
    ucvm_tries=$((ucvm_tries - 1))
  done
  return 1
}
