/*
 * syncFileSystem(path): a Promise that settles once syncfs(2) has written the whole file system
 * that holds `path` (a directory) to disk, run on libuv's thread pool: the `sync -f` that a
 * publish's commit needs, without starting a process. Rejects with the errno's name as code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

static const char USAGE[] = "syncFileSystem(path) takes a string";

typedef struct {
  char *path;
  int error;
  napi_deferred deferred;
  napi_async_work work;
} sync_job;

static void sync_now(napi_env env, void *data) {
  (void)env;
  sync_job *job = data;
  int fd = open(job->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    job->error = errno;
    return;
  }
  job->error = syncfs(fd) == 0 ? 0 : errno;
  close(fd);
}

static void settle(napi_env env, napi_status status, void *data) {
  sync_job *job = data;
  napi_value outcome;
  if (status == napi_ok && job->error == 0) {
    napi_get_undefined(env, &outcome);
    napi_resolve_deferred(env, job->deferred, outcome);
  } else {
    int error = status == napi_ok ? job->error : ECANCELED;
    const char *name = strerrorname_np(error);
    napi_value code, message;
    napi_create_string_utf8(env, name != NULL ? name : "EIO", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "cannot sync the file system", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &outcome);
    napi_reject_deferred(env, job->deferred, outcome);
  }
  napi_delete_async_work(env, job->work);
  free(job->path);
  free(job);
}

napi_value sync_file_system(napi_env env, napi_callback_info info) {
  size_t length;
  char *path = only_string_argument(env, info, &length, USAGE);
  if (path == NULL) return NULL;
  sync_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    free(path);
    return throw_errno(env, ENOMEM, "out of memory");
  }
  job->path = path;
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "syncFileSystem", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, sync_now, settle, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* A promise made here is left pending, unreachable: the exception is what the caller sees. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "EIO", "cannot start syncFileSystem");
    if (job->work != NULL) napi_delete_async_work(env, job->work);
    free(job->path);
    free(job);
    return NULL;
  }
  return promise;
}
