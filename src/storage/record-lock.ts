import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UcvmError } from '../errors.js';
import type { LockRequest, WriterLock } from './storage.js';

export const LOCK_FILE = 'ucvm.lock';
export const LOCK_HOLDER_FILE = 'ucvm.lock.holder';

/**
 * One writer per repository. The lock is an exclusive SQLite transaction, i.e. a POSIX
 * record lock that the kernel holds for this process: it cannot go stale, because the kernel
 * drops it when the process dies, even on SIGKILL.
 */
export async function acquireRepoLock(
  path: string,
  holderPath: string,
  options: LockRequest,
): Promise<WriterLock> {
  const db = new Database(path, { timeout: 0 });
  const deadline = Date.now() + options.waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      db.exec('BEGIN EXCLUSIVE');
      writeFileSync(holderPath, `${options.holder} since ${new Date().toISOString()}\n`);
      return {
        release() {
          if (db.inTransaction) db.exec('ROLLBACK');
          db.close();
        },
      };
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') {
        db.close();
        throw error;
      }
      if (attempt === 0 && options.waitMs > 0) options.onWait?.(readHolder(holderPath));
      if (Date.now() >= deadline) {
        db.close();
        throw new UcvmError('REPO_LOCKED', 'another process is writing to this repository', {
          details: `Held by: ${readHolder(holderPath)}.\nWait for it to finish, or pass --wait <seconds> to queue behind it.`,
        });
      }
      await sleep(Math.min(50 * 2 ** Math.min(attempt, 5), 1000));
    }
  }
}

function readHolder(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
