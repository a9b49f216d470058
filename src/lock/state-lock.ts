import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UcvmError } from '../errors.js';

/**
 * Runs `work` while holding `<dir>/ucvm.lock`. apt runs with Debug::NoLocking in the private
 * state, so two `ucvm lock` runs sharing it (e.g. channels locked in parallel) would update
 * the same lists at once; this makes the second wait. A lock whose process is gone is taken
 * over.
 */
export async function withStateLock<T>(
  dir: string,
  work: () => Promise<T>,
  timeoutMs = 10 * 60_000,
): Promise<T> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'ucvm.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!(await holderAlive(file))) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new UcvmError('REPO_LOCKED', `${dir} is in use by another ucvm lock`, {
        details: `Wait for it to finish, or pass another --state-dir. Lock file: ${file}`,
      });
    }
    await sleep(200);
  }
  try {
    return await work();
  } finally {
    await rm(file, { force: true });
  }
}

async function holderAlive(file: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number.parseInt(await readFile(file, 'utf8'), 10);
  } catch {
    return true; // being written right now, or just removed: look again
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
