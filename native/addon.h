/*
 * The publisher's native file-system calls (one Node-API addon, built by scripts/build-native.js
 * and loaded by src/native/addon.ts): what node:fs either lacks (extended attributes, unnamed
 * files, syncfs) or costs several times the system calls for (a directory's entries with their
 * lstat).
 */
#ifndef UCVM_ADDON_H
#define UCVM_ADDON_H

#include <node_api.h>
#include <stddef.h>

/* Throws an Error whose code is the errno's name (EACCES), as node:fs errors have; NULL. */
napi_value throw_errno(napi_env env, int error, const char *what);

/*
 * A JavaScript string argument as a new C string (free it); NULL, with a TypeError naming
 * `usage` pending, if it is none.
 */
char *string_argument(napi_env env, napi_value value, size_t *length, const char *usage);

/* The one string argument of a call, as a new C string (free it); NULL, with a TypeError naming
 * `usage` pending, if the call has another number of arguments or it is no string. */
char *only_string_argument(napi_env env, napi_callback_info info, size_t *length,
                           const char *usage);

/* listDirectory(source, path): see list-directory.c. */
napi_value list_directory(napi_env env, napi_callback_info info);

/* readXattrs(path): see xattrs.c. */
napi_value read_xattrs(napi_env env, napi_callback_info info);

/* writeObject(directory, target, bytes): see write-object.c. */
napi_value write_object(napi_env env, napi_callback_info info);

/* syncFileSystem(path): see sync.c. */
napi_value sync_file_system(napi_env env, napi_callback_info info);

#endif
