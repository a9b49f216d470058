import path from 'node:path';
import { UcvmError } from '../errors.js';
import { withMutex } from '../mutex/index.js';

/**
 * Runs `work` holding the mutex of the private apt state `dir`. apt runs with
 * Debug::NoLocking there, so two `ucvm lock` runs sharing it (e.g. channels locked in
 * parallel) would update the same lists at once; this makes the second wait. A holder that
 * died holds nothing: the kernel dropped its lock.
 */
export async function withStateLock<T>(
  dir: string,
  work: () => Promise<T>,
  timeoutMs = 10 * 60_000,
): Promise<T> {
  const file = path.join(dir, 'ucvm.lock');
  return withMutex(
    file,
    {
      holder: `ucvm lock (pid ${process.pid})`,
      waitMs: timeoutMs,
      busy: (holder) =>
        new UcvmError('REPO_LOCKED', `${dir} is in use by another ucvm lock`, {
          details: `Held by: ${holder}. Wait for it to finish, or pass another --state-dir. Lock file: ${file}`,
        }),
    },
    work,
  );
}
