# shellcheck shell=sh
# context: first boot only, the machine's user data (NoCloud, config drive, metadata service).
# Later boots use what the first one kept on the scratch disk (the scratch stage restores it).
ucvm_stage_context() {
  mkdir -p /run/ucvm/context
  [ "$UCVM_FIRST_BOOT" = yes ] || return 0
  ucvm_info "context: $(ucvm_context_collect /run/ucvm/context)"
}
