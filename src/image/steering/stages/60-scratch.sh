# shellcheck shell=sh
# scratch: make the scratch disk on first boot, check and mount it on every boot, keep the
# context and the log there, and settle the settings (image < kernel command line < context).
ucvm_stage_scratch() {
  if [ "$UCVM_FIRST_BOOT" = yes ]; then
    UCVM_SCRATCH=$(ucvm_prepare_scratch UROOT "$(ucvm_context_get /run/ucvm/context/ucontext use_boothd)") ||
      ucvm_panic 'no scratch disk: attach an empty disk, or boot from a disk with free space'
  fi
  e2fsck -p "$UCVM_SCRATCH" >>"$UCVM_LOG" 2>&1
  mount -t ext4 "$UCVM_SCRATCH" /root.rw || ucvm_panic "cannot mount the scratch disk $UCVM_SCRATCH"
  ucvm_scratch_layout /root.rw
  { echo "=== boot of $(cat /version) at $(date -u +%Y-%m-%dT%H:%M:%SZ)"; cat "$UCVM_LOG"; } \
    >>/root.rw/ulogs/boot.log
  UCVM_LOG=/root.rw/ulogs/boot.log
  if [ "$UCVM_FIRST_BOOT" = yes ]; then
    ucvm_context_persist /run/ucvm/context /root.rw/context
  elif ! ucvm_context_restore /root.rw/context /run/ucvm/context >/dev/null; then
    # A scratch disk made by a first boot that stopped before keeping the context.
    ucvm_context_collect /run/ucvm/context >/dev/null
    ucvm_context_persist /run/ucvm/context /root.rw/context
  fi
  ucvm_merge_settings /run/ucvm/settings /etc/ucvm/image.conf /run/ucvm/cmdline \
    /run/ucvm/context/ucontext
  UCVM_DEBUG=$(ucvm_context_get /run/ucvm/settings debug)
  UCVM_PANIC=$(ucvm_context_get /run/ucvm/settings panic)
}
