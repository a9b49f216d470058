import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UcvmError } from '../errors.js';

/**
 * The one way ucvm keeps two processes out of the same thing (a repository, the apt state,
 * the package pool). It is called a mutex here so as not to be confused with `ucvm lock`,
 * which pins package versions.
 */
export interface Mutex {
  release(): void;
}

export interface MutexRequest {
  /** Who we are, e.g. `ucvm publish (pid 123)`, shown to a process that has to wait. */
  holder: string;
  /** How long to queue behind another holder; 0 fails at once. */
  waitMs: number;
  /** Told once, with the holder's description, when the mutex is busy and we wait. */
  onWait?: (holder: string) => void;
  /** The error when the wait is over: what is held, and how to proceed. */
  busy?: (holder: string) => UcvmError;
}

/**
 * An exclusive SQLite transaction on `path`, i.e. a POSIX record lock that the kernel holds
 * for this process: it cannot go stale, because the kernel drops it when the process dies,
 * even on SIGKILL. The holder's description goes to `<path>.holder`, for messages only.
 */
export async function acquireMutex(path: string, request: MutexRequest): Promise<Mutex> {
  mkdirSync(dirname(path), { recursive: true });
  const holderPath = `${path}.holder`;
  const db = new Database(path, { timeout: 0 });
  const deadline = Date.now() + request.waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      db.exec('BEGIN EXCLUSIVE');
      writeFileSync(holderPath, `${request.holder} since ${new Date().toISOString()}\n`);
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
      const holder = readHolder(holderPath);
      if (attempt === 0 && request.waitMs > 0) request.onWait?.(holder);
      if (Date.now() >= deadline) {
        db.close();
        throw (
          request.busy?.(holder) ??
          new UcvmError('REPO_LOCKED', `${path} is held by another process`, {
            details: `Held by: ${holder}.`,
          })
        );
      }
      await sleep(Math.min(50 * 2 ** Math.min(attempt, 5), 1000));
    }
  }
}

/** Runs `work` holding the mutex at `path`. */
export async function withMutex<T>(
  path: string,
  request: MutexRequest,
  work: () => Promise<T>,
): Promise<T> {
  const mutex = await acquireMutex(path, request);
  try {
    return await work();
  } finally {
    mutex.release();
  }
}

function readHolder(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
