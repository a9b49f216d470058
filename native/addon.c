#define _GNU_SOURCE
#include "addon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

napi_value throw_errno(napi_env env, int error, const char *what) {
  const char *code = strerrorname_np(error);
  napi_throw_error(env, code != NULL ? code : "EIO", what);
  return NULL;
}

char *string_argument(napi_env env, napi_value value, size_t *length, const char *usage) {
  if (napi_get_value_string_utf8(env, value, NULL, 0, length) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  char *text = malloc(*length + 1);
  if (text == NULL) {
    throw_errno(env, ENOMEM, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, text, *length + 1, NULL);
  return text;
}

char *only_string_argument(napi_env env, napi_callback_info info, size_t *length,
                           const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return string_argument(env, argv[0], length, usage);
}

static int export_function(napi_env env, napi_value exports, const char *name,
                           napi_callback function) {
  napi_value value;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, function, NULL, &value) == napi_ok &&
         napi_set_named_property(env, exports, name, value) == napi_ok;
}

NAPI_MODULE_INIT() {
  if (!export_function(env, exports, "listDirectory", list_directory) ||
      !export_function(env, exports, "readXattrs", read_xattrs) ||
      !export_function(env, exports, "writeObject", write_object) ||
      !export_function(env, exports, "syncFileSystem", sync_file_system))
    return NULL;
  return exports;
}
