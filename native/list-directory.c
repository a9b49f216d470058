/*
 * listDirectory(path): the entries of one directory, sorted by the bytes of their names, each
 * with what lstat(2) tells of it, in one Buffer. The publisher's scan calls it once per
 * directory of the tree in place of one readdir and one lstat call per entry through node:fs,
 * which cost several times the system calls themselves (see
 * src/publisher/embedded/directory-listing.ts, which reads the Buffer, and falls back to
 * node:fs where this addon is not built).
 *
 * Layout, native byte order, every field 8 bytes (see FIELD_* below), per entry:
 *   FIELDS header words, then the name's bytes, padded with zeros to a multiple of 8.
 * An entry whose lstat failed carries the errno and no stat fields.
 *
 * The directory is opened without following a symbolic link in its place (O_NOFOLLOW): the
 * scan found a directory there, and something swapped in since is refused, not followed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
  FIELD_ERRNO,
  FIELD_NAME_LENGTH,
  FIELD_FLAGS,
  FIELD_MODE,
  FIELD_UID,
  FIELD_GID,
  FIELD_NLINK,
  FIELD_RDEV,
  FIELD_SIZE,
  FIELD_MTIME_SEC,
  FIELD_MTIME_NSEC,
  FIELD_CTIME_NS,
  FIELD_CTIME_SEC,
  FIELD_CTIME_NSEC,
  FIELD_INO,
  FIELD_DEV,
  FIELDS
};

/* The name holds a byte of 0x80 or more (it is not plain ASCII). */
#define FLAG_NOT_ASCII 1
/* ctime in nanoseconds does not fit 64 bits: FIELD_CTIME_NS is not set. */
#define FLAG_CTIME_WIDE 2
/* The name holds a line break (\n or \r), which the format cannot. */
#define FLAG_LINE_BREAK 4

typedef struct {
  char *name;
  size_t length;
} entry;

static int by_bytes(const void *a, const void *b) {
  const entry *x = a, *y = b;
  size_t common = x->length < y->length ? x->length : y->length;
  int order = memcmp(x->name, y->name, common);
  if (order != 0) return order;
  return (x->length > y->length) - (x->length < y->length);
}

static size_t padded(size_t length) { return (length + 7) & ~(size_t)7; }

static void free_entries(entry *entries, size_t count) {
  for (size_t i = 0; i < count; i++) free(entries[i].name);
  free(entries);
}

/* Throws an Error whose code is the errno's name (EACCES), as node:fs errors have. */
static napi_value throw_errno(napi_env env, int error, const char *what) {
  const char *code = strerrorname_np(error);
  napi_throw_error(env, code != NULL ? code : "EIO", what);
  return NULL;
}

static int flags_of(const char *name, size_t length) {
  int flags = 0;
  for (size_t i = 0; i < length; i++) {
    unsigned char byte = (unsigned char)name[i];
    if (byte >= 0x80) flags |= FLAG_NOT_ASCII;
    if (byte == '\n' || byte == '\r') flags |= FLAG_LINE_BREAK;
  }
  return flags;
}

static void fill(int64_t *fields, const struct stat *st) {
  fields[FIELD_MODE] = st->st_mode;
  fields[FIELD_UID] = st->st_uid;
  fields[FIELD_GID] = st->st_gid;
  fields[FIELD_NLINK] = (int64_t)st->st_nlink;
  fields[FIELD_RDEV] = (int64_t)st->st_rdev;
  fields[FIELD_SIZE] = st->st_size;
  fields[FIELD_MTIME_SEC] = st->st_mtim.tv_sec;
  fields[FIELD_MTIME_NSEC] = st->st_mtim.tv_nsec;
  fields[FIELD_CTIME_SEC] = st->st_ctim.tv_sec;
  fields[FIELD_CTIME_NSEC] = st->st_ctim.tv_nsec;
  int64_t ns;
  if (__builtin_mul_overflow((int64_t)st->st_ctim.tv_sec, (int64_t)1000000000, &ns) ||
      __builtin_add_overflow(ns, (int64_t)st->st_ctim.tv_nsec, &ns))
    fields[FIELD_FLAGS] |= FLAG_CTIME_WIDE;
  else
    fields[FIELD_CTIME_NS] = ns;
  fields[FIELD_INO] = (int64_t)st->st_ino;
  fields[FIELD_DEV] = (int64_t)st->st_dev;
}

/* Reads every name of the open directory; NULL (errno set) on failure. */
static entry *read_names(DIR *directory, size_t *count) {
  size_t capacity = 64;
  entry *entries = malloc(capacity * sizeof *entries);
  if (entries == NULL) return NULL;
  *count = 0;
  for (;;) {
    errno = 0;
    struct dirent *found = readdir(directory);
    if (found == NULL) {
      if (errno == 0) return entries;
      int error = errno;
      free_entries(entries, *count);
      errno = error;
      return NULL;
    }
    const char *name = found->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    if (*count == capacity) {
      entry *grown = realloc(entries, 2 * capacity * sizeof *entries);
      if (grown == NULL) {
        free_entries(entries, *count);
        errno = ENOMEM;
        return NULL;
      }
      entries = grown;
      capacity *= 2;
    }
    size_t length = strlen(name);
    char *copy = strdup(name);
    if (copy == NULL) {
      free_entries(entries, *count);
      errno = ENOMEM;
      return NULL;
    }
    entries[*count].name = copy;
    entries[*count].length = length;
    (*count)++;
  }
}

static napi_value list_directory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) {
    napi_throw_type_error(env, NULL, "listDirectory(path) takes one path");
    return NULL;
  }
  size_t path_length;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &path_length) != napi_ok) {
    napi_throw_type_error(env, NULL, "listDirectory(path): the path must be a string");
    return NULL;
  }
  char *path = malloc(path_length + 1);
  if (path == NULL) return throw_errno(env, ENOMEM, "listDirectory");
  napi_get_value_string_utf8(env, argv[0], path, path_length + 1, NULL);

  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int error = errno;
  free(path);
  if (fd < 0) return throw_errno(env, error, "cannot open the directory");
  DIR *directory = fdopendir(fd);
  if (directory == NULL) {
    error = errno;
    close(fd);
    return throw_errno(env, error, "cannot read the directory");
  }
  size_t count;
  entry *entries = read_names(directory, &count);
  if (entries == NULL) {
    error = errno;
    closedir(directory);
    return throw_errno(env, error, "cannot read the directory");
  }
  qsort(entries, count, sizeof *entries, by_bytes);

  size_t bytes = 0;
  for (size_t i = 0; i < count; i++) bytes += FIELDS * sizeof(int64_t) + padded(entries[i].length);
  void *data;
  napi_value buffer;
  if (napi_create_buffer(env, bytes, &data, &buffer) != napi_ok) {
    free_entries(entries, count);
    closedir(directory);
    return NULL;
  }
  char *at = data;
  if (bytes > 0) memset(at, 0, bytes);
  for (size_t i = 0; i < count; i++) {
    int64_t fields[FIELDS] = {0};
    fields[FIELD_NAME_LENGTH] = (int64_t)entries[i].length;
    fields[FIELD_FLAGS] = flags_of(entries[i].name, entries[i].length);
    struct stat st;
    if (fstatat(dirfd(directory), entries[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0)
      fill(fields, &st);
    else
      fields[FIELD_ERRNO] = errno;
    memcpy(at, fields, sizeof fields);
    at += sizeof fields;
    memcpy(at, entries[i].name, entries[i].length);
    at += padded(entries[i].length);
  }
  free_entries(entries, count);
  closedir(directory);
  return buffer;
}

NAPI_MODULE_INIT() {
  napi_value function;
  if (napi_create_function(env, "listDirectory", NAPI_AUTO_LENGTH, list_directory, NULL,
                           &function) != napi_ok ||
      napi_set_named_property(env, exports, "listDirectory", function) != napi_ok)
    return NULL;
  return exports;
}
