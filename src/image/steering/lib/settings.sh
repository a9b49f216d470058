# shellcheck shell=sh
# Where the repository, servers, proxy and tag come from, later wins (ucernvm.md §2.11):
# the image's defaults (written at image build from pipeline/pipeline.yaml), the kernel
# command line, then the machine's context (user data, first boot only, kept on the scratch
# disk). Every source is reduced to a checked key=value file first (lib/userdata.sh's
# ucvm_context_value), so nothing here is ever evaluated. Needs lib/userdata.sh.

# Kernel command line parameters and the context key each one sets.
ucvm_cmdline_key() {
  case "$1" in
    cvmfs_repos | ucvm.repository) echo cvmfs_branch ;;
    cvmfs_server | ucvm.server) echo cvmfs_server ;;
    cvmfs_proxy | ucvm.proxy) echo cvmfs_http_proxy ;;
    cvmfs_repository_tag | ucvm.tag) echo cvmfs_tag ;;
    cvmfs_wait_on_squid) echo cvmfs_wait_on_squid ;;
    cvmdebug | ucvm.debug) echo debug ;;
    ucvm.force_tag) echo force_tag ;;
    ucvm.root) echo root_source ;;
    ucvm.panic) echo panic ;;
    *) return 1 ;;
  esac
}

# ucvm_parse_cmdline CMDLINE OUT: the parameters the init reads, checked, as key=value lines.
# A parameter without a value (`cvmdebug`) is "yes"; unknown parameters are the kernel's.
ucvm_parse_cmdline() {
  : >"$2" || return 1
  # Split on blanks only: no file name expansion of what the boot loader passed.
  set -f
  for ucvm_word in $1; do
    case "$ucvm_word" in
      *=*) ucvm_name=${ucvm_word%%=*} ucvm_value=${ucvm_word#*=} ;;
      *) ucvm_name=$ucvm_word ucvm_value=yes ;;
    esac
    ucvm_key=$(ucvm_cmdline_key "$ucvm_name") || continue
    if ucvm_stored=$(ucvm_context_value "$ucvm_key" "$ucvm_value" 2>"$2.why"); then
      printf '%s=%s\n' "$ucvm_key" "$ucvm_stored" >>"$2"
    else
      echo "ucernvm: kernel command line: $ucvm_name: $(cat "$2.why") (ignored)" >&2
    fi
  done
  set +f
  rm -f "$2.why"
  unset ucvm_word ucvm_name ucvm_value ucvm_key ucvm_stored
}

# ucvm_merge_settings OUT FILE...: one key=value per key, the last file that sets it winning.
ucvm_merge_settings() {
  ucvm_merged=$1
  shift
  : >"$ucvm_merged.all"
  for ucvm_file in "$@"; do
    [ -f "$ucvm_file" ] && cat "$ucvm_file" >>"$ucvm_merged.all"
  done
  : >"$ucvm_merged"
  for ucvm_key in cvmfs_branch cvmfs_server cvmfs_http_proxy cvmfs_tag cvmfs_wait_on_squid \
    resize_rootfs use_boothd debug force_tag root_source panic; do
    ucvm_value=$(ucvm_context_get "$ucvm_merged.all" "$ucvm_key")
    [ -n "$ucvm_value" ] && printf '%s=%s\n' "$ucvm_key" "$ucvm_value" >>"$ucvm_merged"
  done
  rm -f "$ucvm_merged.all"
  unset ucvm_merged ucvm_file ucvm_key ucvm_value
}

# ucvm_client_config SETTINGS CACHE KEYS_DIR [ROOT_HASH]: the CernVM-FS client configuration
# of the repository the settings name, on stdout. Pinned (a root hash): that exact revision;
# else the tag. Values come from checked settings and are written double-quoted anyway.
ucvm_client_config() {
  ucvm_repo=$(ucvm_context_get "$1" cvmfs_branch)
  ucvm_servers=$(ucvm_context_get "$1" cvmfs_server)
  ucvm_proxy=$(ucvm_context_get "$1" cvmfs_http_proxy)
  ucvm_tag=$(ucvm_context_get "$1" cvmfs_tag)
  if [ -z "$ucvm_repo" ] || [ -z "$ucvm_servers" ]; then
    echo "ucernvm: no repository or server given (image defaults, kernel command line, user data)" >&2
    return 1
  fi
  # Server entries are URLs with @fqrn@, or host names that become http://<host>/cvmfs/<repo>.
  ucvm_urls=
  ucvm_rest=$ucvm_servers,
  while [ -n "$ucvm_rest" ]; do
    ucvm_one=${ucvm_rest%%,*}
    ucvm_rest=${ucvm_rest#*,}
    [ -z "$ucvm_one" ] && continue
    case "$ucvm_one" in
      http://* | https://*) ;;
      *) ucvm_one="http://$ucvm_one/cvmfs/@fqrn@" ;;
    esac
    ucvm_urls="${ucvm_urls:+$ucvm_urls;}$ucvm_one"
  done
  printf 'CVMFS_SERVER_URL="%s"\n' "$ucvm_urls"
  printf 'CVMFS_HTTP_PROXY="%s"\n' "${ucvm_proxy:-DIRECT}"
  printf 'CVMFS_KEYS_DIR="%s"\n' "$3"
  printf 'CVMFS_CACHE_BASE="%s"\n' "$2"
  printf 'CVMFS_RELOAD_SOCKETS="%s"\n' "$2"
  printf 'CVMFS_USYSLOG="%s/usyslog"\n' "$2"
  # Never follow new revisions while running: the machine stays on what it booted.
  printf 'CVMFS_AUTO_UPDATE=no\n'
  printf 'CVMFS_SHARED_CACHE=no\nCVMFS_CHECK_PERMISSIONS=yes\nCVMFS_IGNORE_SIGNATURE=no\n'
  printf 'CVMFS_CLAIM_OWNERSHIP=no\nCVMFS_USER=root\nCVMFS_NFILES=65536\n'
  printf 'CVMFS_TIMEOUT=5\nCVMFS_TIMEOUT_DIRECT=5\nCVMFS_MAX_RETRIES=1\nCVMFS_HIDE_MAGIC_XATTRS=yes\n'
  # The client's argv[0] becomes @vmfs2: systemd spares such root storage daemons at shutdown.
  printf 'CVMFS_SYSTEMD_NOKILL=yes\n'
  if [ -n "$4" ]; then
    case "$4" in
      *[!0-9a-z-]*)
        echo "ucernvm: the pinned root hash is not a hash: $4" >&2
        return 1
        ;;
    esac
    printf 'CVMFS_ROOT_HASH="%s"\n' "$4"
  elif [ -n "$ucvm_tag" ]; then
    printf 'CVMFS_REPOSITORY_TAG="%s"\n' "$ucvm_tag"
  fi
  unset ucvm_repo ucvm_servers ucvm_proxy ucvm_tag ucvm_urls ucvm_rest ucvm_one
}
