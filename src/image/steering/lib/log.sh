# shellcheck shell=sh
# Console and log (ucernvm.md §2.0). Every line goes to the console and to $UCVM_LOG, a file
# in /run until the scratch disk is mounted; the mount stage copies it there and logs on.
# Decision: `panic` keeps the original's rescue shell that can continue (leave it and the boot
# goes on where it stopped), and adds `ucvm.panic=reboot` for unattended clouds, where a VM
# waiting in a shell on a console nobody reads is worse than a reboot.

UCVM_LOG=${UCVM_LOG:-/run/ucvm/boot.log}

ucvm_log() {
  printf '%s\n' "$*" >>"$UCVM_LOG" 2>/dev/null
  return 0
}

ucvm_info() {
  printf '[INF] %s\n' "$*"
  ucvm_log "[INF] $*"
}

ucvm_warn() {
  printf '[WRN] %s\n' "$*"
  ucvm_log "[WRN] $*"
}

# ucvm_run WHAT COMMAND...: runs a command, its output to the log only; says "WHAT... ok" or
# "WHAT... failed" on the console. Returns the command's status.
ucvm_run() {
  ucvm_what=$1
  shift
  ucvm_log "+ $*"
  if "$@" >>"$UCVM_LOG" 2>&1; then
    printf '[INF] %s... ok\n' "$ucvm_what"
    ucvm_log "[INF] $ucvm_what... ok"
    return 0
  fi
  ucvm_status=$?
  printf '[WRN] %s... failed (%s)\n' "$ucvm_what" "$ucvm_status"
  ucvm_log "[WRN] $ucvm_what... failed ($ucvm_status)"
  return "$ucvm_status"
}

# ucvm_panic MESSAGE: says why, then a rescue shell on the console; the boot continues after it.
ucvm_panic() {
  printf '[ERR] %s\n' "$*"
  ucvm_log "[ERR] $*"
  [ -r /proc/partitions ] && cat /proc/partitions
  if [ "${UCVM_PANIC:-shell}" = reboot ]; then
    echo 'ucernvm: rebooting in 10 seconds (ucvm.panic=reboot)'
    sleep 10
    reboot -f
  fi
  echo 'ucernvm: rescue shell; leave it (exit or Ctrl-D) and the boot goes on'
  ${UCVM_RESCUE_SHELL:-ucvm_rescue_shell}
  return 0
}

ucvm_rescue_shell() {
  PS1='(initrd) ' setsid cttyhack sh -i
}
