import { closeSync, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { join } from 'node:path';

/** Files the probe creates: enough to see the allocator's state, few enough to take milliseconds. */
const PROBE_FILES = 1000;

/**
 * Above this, creating files is in the state that follows mass deletions on ext4 without a
 * journal (the inode allocator skips recently deleted inodes): the usual is 20–50 µs.
 */
export const SLOW_CREATE_MICROS = 100;

/**
 * Microseconds per file to create PROBE_FILES empty files in a new directory under `work`. They
 * stay until the bench removes `work`: deleting them now would itself slow the creations that
 * follow.
 */
export function probeCreates(work: string): number {
  mkdirSync(work, { recursive: true });
  const directory = mkdtempSync(join(work, 'create-probe-'));
  const started = process.hrtime.bigint();
  for (let i = 0; i < PROBE_FILES; i++) closeSync(openSync(join(directory, String(i)), 'wx'));
  return Number(process.hrtime.bigint() - started) / 1e3 / PROBE_FILES;
}
