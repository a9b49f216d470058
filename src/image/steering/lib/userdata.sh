# shellcheck shell=sh
# The μCernVM section of user data: the lines between `[ucernvm-begin]` and `[ucernvm-end]`,
# `key=value` each. POSIX sh for busybox. Decisions against the original (ucernvm.md §2.6, §7):
# - values are checked against what each key may hold and written to a key=value file that the
#   stages read with `read`; nothing from user data is ever sourced or evaluated;
# - CRLF line ends, a last line without a newline, gzip-compressed user data and blanks around
#   the markers are accepted;
# - an unknown key, or a value a key cannot take, is a message on the console, never a hang.

# ucvm_context_value KEY VALUE: prints the value to store for KEY, or fails (status 1) with a
# reason on stderr. Booleans become 1 or 0.
ucvm_context_value() {
  case "$1" in
    cvmfs_branch | repository)
      case "$2" in
        *[!a-z0-9.-]* | '' | .* | -*) echo "not a repository name" >&2; return 1 ;;
      esac ;;
    cvmfs_server)
      case "$2" in
        *[!A-Za-z0-9.:/,_@%-]* | '') echo "not a comma-separated list of servers" >&2; return 1 ;;
      esac ;;
    cvmfs_http_proxy | proxy)
      case "$2" in
        *[!A-Za-z0-9.:/,\;\|_@%-]* | '') echo "not a proxy list" >&2; return 1 ;;
      esac ;;
    cvmfs_tag | tag | force_tag)
      case "$2" in
        *[!A-Za-z0-9._-]* | '' | .* | -*) echo "not a tag name" >&2; return 1 ;;
      esac ;;
    cvmfs_wait_on_squid)
      case "$2" in
        *[!0-9]* | '') echo "not a number of seconds" >&2; return 1 ;;
      esac ;;
    root_source)
      case "$2" in
        cvmfs | squashfs) ;;
        *) echo "not cvmfs or squashfs" >&2; return 1 ;;
      esac ;;
    panic)
      case "$2" in
        shell | reboot) ;;
        *) echo "not shell or reboot" >&2; return 1 ;;
      esac ;;
    resize_rootfs | use_boothd | debug)
      case "$2" in
        [Yy][Ee][Ss] | [Oo][Nn] | [Tt][Rr][Uu][Ee] | 1) echo 1; return 0 ;;
        [Nn][Oo] | [Oo][Ff][Ff] | [Ff][Aa][Ll][Ss][Ee] | 0) echo 0; return 0 ;;
        *) echo "not yes or no" >&2; return 1 ;;
      esac ;;
    *) echo "unknown key" >&2; return 1 ;;
  esac
  printf '%s\n' "$2"
}

# ucvm_parse_user_data FILE OUT: writes the checked `key=value` lines of FILE's μCernVM section
# to OUT (keys lower-case, the last one of a key wins when read in order). Returns 0 even when
# lines were refused: each refusal is printed to stderr with its line number.
ucvm_parse_user_data() {
  ucvm_in=$1
  ucvm_out=$2
  : >"$ucvm_out" || return 1
  [ -s "$ucvm_in" ] || return 0
  ucvm_text=$ucvm_in
  # gzip magic 1f 8b: read the decompressed form.
  if [ "$(head -c 2 "$ucvm_in" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
    ucvm_text="$ucvm_out.unzipped"
    gunzip -c <"$ucvm_in" >"$ucvm_text" 2>/dev/null || {
      echo "ucernvm: context: user data looks gzip-compressed but does not decompress" >&2
      rm -f "$ucvm_text"
      return 0
    }
  fi
  ucvm_inside=0
  ucvm_number=0
  while IFS= read -r ucvm_line || [ -n "$ucvm_line" ]; do
    ucvm_number=$((ucvm_number + 1))
    # CR of CRLF line ends, and blanks around the line.
    ucvm_line=$(printf '%s' "$ucvm_line" | tr -d '\r' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    case "$ucvm_inside:$ucvm_line" in
      0:'[ucernvm-begin]') ucvm_inside=1; continue ;;
      1:'[ucernvm-end]') break ;;
      0:*) continue ;;
      1:'' | 1:'#'*) continue ;;
      1:*=*) ;;
      1:*) echo "ucernvm: context: line $ucvm_number: no '=' (ignored)" >&2; continue ;;
    esac
    ucvm_key=$(printf '%s' "${ucvm_line%%=*}" | tr 'A-Z' 'a-z' | sed 's/[[:space:]]*$//')
    ucvm_value=$(printf '%s' "${ucvm_line#*=}" | sed 's/^[[:space:]]*//')
    if ucvm_stored=$(ucvm_context_value "$ucvm_key" "$ucvm_value" 2>"$ucvm_out.why"); then
      printf '%s=%s\n' "$ucvm_key" "$ucvm_stored" >>"$ucvm_out"
    else
      echo "ucernvm: context: line $ucvm_number: $ucvm_key: $(cat "$ucvm_out.why") (ignored)" >&2
    fi
  done <"$ucvm_text"
  rm -f "$ucvm_out.why" "$ucvm_out.unzipped"
  unset ucvm_in ucvm_text ucvm_inside ucvm_number ucvm_line ucvm_key ucvm_value ucvm_stored
  return 0
}

# ucvm_context_get OUT KEY: prints the value stored for KEY (the last one), or nothing.
ucvm_context_get() {
  ucvm_found=
  while IFS='=' read -r ucvm_k ucvm_v; do
    [ "$ucvm_k" = "$2" ] && ucvm_found=$ucvm_v
  done <"$1"
  printf '%s' "$ucvm_found"
  unset ucvm_found ucvm_k ucvm_v
}
