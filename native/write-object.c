/*
 * writeObject(directory, target, bytes): writes `bytes` as a new file at `target`, unless a name
 * is there, without ever showing a partial file: the bytes go to an unnamed file in `directory`
 * (O_TMPFILE), which linkat(2) then names. link never replaces a name, so a racing writer cannot
 * overwrite an object, and a crash leaves nothing behind to clean up. Returns true if written,
 * false if `target` existed, and undefined where the file system makes no unnamed files or the
 * kernel lets this process not name one (the caller then writes through a temporary name, as
 * src/storage/directory-objects.ts does without this addon). Throws with the errno's name
 * otherwise.
 *
 * One call does what the temporary name costs five system calls and two more directory entries
 * for (create, write, close, link, unlink).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"

static const char USAGE[] =
    "writeObject(directory, target, bytes) takes two strings and a Uint8Array";

static napi_value boolean(napi_env env, int value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}

static napi_value unsupported(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

/* Writes every byte; 0, or the errno. */
static int write_all(int fd, const uint8_t *bytes, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, bytes, length);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes += written;
    length -= (size_t)written;
  }
  return 0;
}

/* True if the directory `target` would be named in exists. */
static int parent_exists(const char *target) {
  const char *slash = strrchr(target, '/');
  if (slash == NULL) return 1;
  size_t length = (size_t)(slash - target);
  char *parent = strndup(target, length == 0 ? 1 : length);
  if (parent == NULL) return 1;
  struct stat st;
  int exists = stat(parent, &st) == 0 && S_ISDIR(st.st_mode);
  free(parent);
  return exists;
}

static napi_value write_object_at(napi_env env, const char *directory, const char *target,
                                  const uint8_t *bytes, size_t length) {
  int fd = open(directory, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    /* EOPNOTSUPP: no unnamed files on this file system; EISDIR: a kernel without O_TMPFILE. */
    if (errno == EOPNOTSUPP || errno == EISDIR) return unsupported(env);
    return throw_errno(env, errno, "cannot create an object");
  }
  int error = write_all(fd, bytes, length);
  if (error != 0) {
    close(fd);
    return throw_errno(env, error, "cannot write an object");
  }
  /*
   * AT_EMPTY_PATH names the open file itself. The kernel allows it to the process that made the
   * file (Linux 6.10) or to one with CAP_DAC_READ_SEARCH; elsewhere it answers ENOENT, as for a
   * directory that is not there, and the caller writes through a temporary name instead.
   */
  int linked = linkat(fd, "", AT_FDCWD, target, AT_EMPTY_PATH);
  error = errno;
  close(fd);
  if (linked == 0) return boolean(env, 1);
  if (error == EEXIST) return boolean(env, 0);
  if (error == ENOENT && parent_exists(target)) return unsupported(env);
  return throw_errno(env, error, "cannot name an object");
}

napi_value write_object(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bool typed = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_is_typedarray(env, argv[2], &typed) != napi_ok || !typed) {
    napi_throw_type_error(env, NULL, USAGE);
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, USAGE);
    return NULL;
  }
  size_t directory_length, target_length;
  char *directory = string_argument(env, argv[0], &directory_length, USAGE);
  if (directory == NULL) return NULL;
  char *target = string_argument(env, argv[1], &target_length, USAGE);
  napi_value result =
      target == NULL ? NULL : write_object_at(env, directory, target, data, length);
  free(directory);
  free(target);
  return result;
}
