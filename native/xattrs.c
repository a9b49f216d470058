/*
 * readXattrs(path): the extended attributes of one entry, the entry itself (a symbolic link is
 * not followed), as [name, value, name, value, ...] with each value a Buffer; undefined if it
 * has none or its file system keeps none. Every namespace the caller may read is listed, as
 * `getfattr -h -d -m -` lists them (src/publisher/embedded/xattrs.ts falls back to getfattr
 * where this addon is not built). Throws with the errno's name (ENOENT, EACCES) otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "addon.h"

static const char USAGE[] = "readXattrs(path) takes a string";

/* The kernel's bounds (XATTR_LIST_MAX, XATTR_SIZE_MAX): no list or value is longer. */
#define LIST_MAX 65536
#define VALUE_MAX 65536

/* The pairs of `names` (NUL-separated, `size` bytes); NULL with an exception pending. */
static napi_value pairs_of(napi_env env, const char *path, const char *names, size_t size,
                           char *value) {
  napi_value result;
  if (napi_create_array(env, &result) != napi_ok) return NULL;
  uint32_t at = 0;
  for (size_t offset = 0; offset < size;) {
    const char *name = names + offset;
    size_t length = strnlen(name, size - offset);
    offset += length + 1;
    ssize_t got = lgetxattr(path, name, value, VALUE_MAX);
    if (got < 0) {
      /* Removed since it was listed: the entry no longer has it. */
      if (errno == ENODATA) continue;
      return throw_errno(env, errno, "cannot read an extended attribute");
    }
    napi_value key, bytes;
    if (napi_create_string_utf8(env, name, length, &key) != napi_ok ||
        napi_create_buffer_copy(env, (size_t)got, value, NULL, &bytes) != napi_ok ||
        napi_set_element(env, result, at++, key) != napi_ok ||
        napi_set_element(env, result, at++, bytes) != napi_ok)
      return NULL;
  }
  if (at > 0) return result;
  napi_value none;
  napi_get_undefined(env, &none);
  return none;
}

napi_value read_xattrs(napi_env env, napi_callback_info info) {
  size_t path_length;
  char *path = only_string_argument(env, info, &path_length, USAGE);
  if (path == NULL) return NULL;
  napi_value result = NULL;
  char *names = malloc(LIST_MAX), *value = malloc(VALUE_MAX);
  ssize_t size = names == NULL ? -1 : llistxattr(path, names, LIST_MAX);
  if (names == NULL || value == NULL)
    throw_errno(env, ENOMEM, "out of memory");
  else if (size < 0 && errno != ENOTSUP)
    throw_errno(env, errno, "cannot list the extended attributes");
  else if (size <= 0)
    napi_get_undefined(env, &result);
  else
    result = pairs_of(env, path, names, (size_t)size, value);
  free(names);
  free(value);
  free(path);
  return result;
}
