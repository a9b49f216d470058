/*
 * listDirectory(source, path, xattrs): the entries of one directory, sorted by the bytes of their
 * names, each with what lstat(2) tells of it. The publisher's scan calls it once per directory
 * of the tree in place of one readdir and one lstat call per entry through node:fs, which cost
 * several times the system calls themselves (src/publisher/embedded/directory-listing.ts reads
 * what it returns, and falls back to node:fs where this addon is not built).
 *
 * It returns [records, strings]. The records, native byte order, every field 8 bytes (see
 * FIELD_* below), per entry: FIELDS header words, then the name's bytes, padded with zeros to a
 * multiple of 8. An entry whose lstat failed carries the errno and no stat fields. For an entry
 * with FLAG_STRINGS, strings[3i .. 3i+2] are its source path (`source`/name), its repository path
 * (`path`/name) and its stamp (see stampOf in state-cache.ts), made here as flat strings, so that
 * the scan neither joins nor formats them.
 *
 * With `xattrs` true, an entry that has extended attributes (or whose list could not be read)
 * carries FLAG_XATTRS: the caller reads those of the few that do (see xattrs.c), not of all.
 *
 * The directory is opened without following a symbolic link in its place (O_NOFOLLOW): the
 * scan found a directory there, and something swapped in since is refused, not followed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "addon.h"

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
/* strings[3i .. 3i+2] hold the entry's source, path and stamp. */
#define FLAG_STRINGS 8
/* The entry may have extended attributes (asked for with `xattrs`). */
#define FLAG_XATTRS 16

static const char USAGE[] =
    "listDirectory(source, path[, xattrs]) takes two strings and a boolean";

/* Whole numbers JavaScript holds exactly: a stamp made here prints them as it would. */
#define EXACT_IN_JS (1ULL << 53)

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

/*
 * The stamp of an entry, as stampOf in state-cache.ts prints it from the node's fields; 0 where a
 * field is beyond what a JavaScript number holds exactly (the scan then prints it itself).
 */
static int format_stamp(char *stamp, size_t room, const int64_t *fields) {
  if ((fields[FIELD_FLAGS] & FLAG_CTIME_WIDE) != 0 ||
      (uint64_t)fields[FIELD_SIZE] >= EXACT_IN_JS || (uint64_t)fields[FIELD_NLINK] >= EXACT_IN_JS ||
      (uint64_t)fields[FIELD_RDEV] >= EXACT_IN_JS)
    return 0;
  int length = snprintf(stamp, room, "%lld:%lld:%lld:%lld:%lld.%lld:%lld:%llu:%llu:%lld:%lld",
                        (long long)fields[FIELD_MODE], (long long)fields[FIELD_UID],
                        (long long)fields[FIELD_GID], (long long)fields[FIELD_SIZE],
                        (long long)fields[FIELD_MTIME_SEC], (long long)fields[FIELD_MTIME_NSEC],
                        (long long)fields[FIELD_CTIME_NS], (unsigned long long)fields[FIELD_INO],
                        (unsigned long long)fields[FIELD_DEV], (long long)fields[FIELD_NLINK],
                        (long long)fields[FIELD_RDEV]);
  return length > 0 && (size_t)length < room ? length : 0;
}

/* Writes `prefix`/`name` into `scratch`, NUL-terminated; returns its length. */
static size_t join_name(char *scratch, const char *prefix, size_t prefix_length,
                        const entry *name) {
  memcpy(scratch, prefix, prefix_length);
  scratch[prefix_length] = '/';
  memcpy(scratch + prefix_length + 1, name->name, name->length);
  scratch[prefix_length + 1 + name->length] = '\0';
  return prefix_length + 1 + name->length;
}

/* `prefix`/`name` as a new JavaScript string, through `scratch`; 0 on failure. */
static int joined(napi_env env, char *scratch, const char *prefix, size_t prefix_length,
                  const entry *name, napi_value *result) {
  size_t length = join_name(scratch, prefix, prefix_length, name);
  return napi_create_string_utf8(env, scratch, length, result) == napi_ok;
}

/* Sets strings[3i .. 3i+2] for a plain entry (ASCII name, stat fields JavaScript holds exactly). */
static int set_strings(napi_env env, napi_value strings, size_t i, char *scratch,
                       const char *source, size_t source_length, const char *path,
                       size_t path_length, const entry *name, const int64_t *fields) {
  char stamp[256];
  int stamp_length = format_stamp(stamp, sizeof stamp, fields);
  if (stamp_length == 0) return 0;
  napi_value values[3];
  if (!joined(env, scratch, source, source_length, name, &values[0]) ||
      !joined(env, scratch, path, path_length, name, &values[1]) ||
      napi_create_string_latin1(env, stamp, (size_t)stamp_length, &values[2]) != napi_ok)
    return 0;
  for (uint32_t k = 0; k < 3; k++)
    if (napi_set_element(env, strings, (uint32_t)(3 * i + k), values[k]) != napi_ok) return 0;
  return 1;
}

/* True if the entry `name` in `source` has extended attributes, or its list cannot be read. */
static int may_have_xattrs(char *scratch, const char *source, size_t source_length,
                           const entry *name) {
  join_name(scratch, source, source_length, name);
  ssize_t size = llistxattr(scratch, NULL, 0);
  return size > 0 || (size < 0 && errno != ENOTSUP);
}

/* The listing of one directory; see the top of this file. */
static napi_value list(napi_env env, const char *source, size_t source_length, const char *path,
                       size_t path_length, int xattrs) {
  int fd = open(source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int error = errno;
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

  size_t bytes = 0, longest = 0;
  for (size_t i = 0; i < count; i++) {
    bytes += FIELDS * sizeof(int64_t) + padded(entries[i].length);
    if (entries[i].length > longest) longest = entries[i].length;
  }
  /* The source prefix is "" for the root of the file system, whose entries are "/name". */
  if (source_length == 1 && source[0] == '/') source_length = 0;
  size_t prefix = source_length > path_length ? source_length : path_length;
  char *scratch = malloc(prefix + 1 + longest + 1);
  void *data;
  napi_value buffer, strings, result;
  if (scratch == NULL || napi_create_buffer(env, bytes, &data, &buffer) != napi_ok ||
      napi_create_array_with_length(env, 3 * count, &strings) != napi_ok) {
    free(scratch);
    free_entries(entries, count);
    closedir(directory);
    return scratch == NULL ? throw_errno(env, ENOMEM, "out of memory") : NULL;
  }
  char *at = data;
  if (bytes > 0) memset(at, 0, bytes);
  for (size_t i = 0; i < count; i++) {
    int64_t fields[FIELDS] = {0};
    fields[FIELD_NAME_LENGTH] = (int64_t)entries[i].length;
    fields[FIELD_FLAGS] = flags_of(entries[i].name, entries[i].length);
    struct stat st;
    if (fstatat(dirfd(directory), entries[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      fill(fields, &st);
      if (xattrs && may_have_xattrs(scratch, source, source_length, &entries[i]))
        fields[FIELD_FLAGS] |= FLAG_XATTRS;
      if ((fields[FIELD_FLAGS] & (FLAG_NOT_ASCII | FLAG_LINE_BREAK)) == 0 &&
          set_strings(env, strings, i, scratch, source, source_length, path, path_length,
                      &entries[i], fields))
        fields[FIELD_FLAGS] |= FLAG_STRINGS;
    } else {
      fields[FIELD_ERRNO] = errno;
    }
    memcpy(at, fields, sizeof fields);
    at += sizeof fields;
    memcpy(at, entries[i].name, entries[i].length);
    at += padded(entries[i].length);
  }
  free(scratch);
  free_entries(entries, count);
  closedir(directory);
  if (napi_create_array_with_length(env, 2, &result) != napi_ok ||
      napi_set_element(env, result, 0, buffer) != napi_ok ||
      napi_set_element(env, result, 1, strings) != napi_ok)
    return NULL;
  return result;
}

napi_value list_directory(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bool xattrs = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || argc > 3 ||
      (argc == 3 && napi_get_value_bool(env, argv[2], &xattrs) != napi_ok)) {
    napi_throw_type_error(env, NULL, USAGE);
    return NULL;
  }
  size_t source_length, path_length;
  char *source = string_argument(env, argv[0], &source_length, USAGE);
  if (source == NULL) return NULL;
  char *path = string_argument(env, argv[1], &path_length, USAGE);
  if (path == NULL) {
    free(source);
    return NULL;
  }
  napi_value result = list(env, source, source_length, path, path_length, xattrs);
  free(source);
  free(path);
  return result;
}
