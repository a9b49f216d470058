# shellcheck shell=sh
# devices: is there a scratch disk already? Its label decides first boot against later boot.
ucvm_stage_devices() {
  if UCVM_SCRATCH=$(ucvm_find_scratch UROOT); then
    UCVM_FIRST_BOOT=no
    ucvm_info "scratch disk $UCVM_SCRATCH"
  else
    UCVM_FIRST_BOOT=yes
    ucvm_info 'no scratch disk yet: first boot'
  fi
}
