import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { UcvmError } from '../../errors.js';
import { withMutex } from '../../mutex/index.js';
import { writeAtomic } from '../apt/fetch.js';

/** One package file kept in the pool, and where it came from. */
export const PoolEntry = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  architecture: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  /** Path of the .deb inside the pool directory. */
  file: z.string().min(1),
  /** The origin of the record it was verified against, e.g. `http://deb.debian.org/debian bookworm/main`. */
  origin: z.string(),
  /** Its path in that archive (Debian `Filename`). */
  filename: z.string(),
  /** The first system that used it, e.g. `cernvm-system 5.1.0`. */
  firstUsedBy: z.string(),
  /** Its control stanza as the index published it (without the archive's Filename, Size and hashes). */
  control: z.string(),
});
export type PoolEntry = z.infer<typeof PoolEntry>;

const poolFormat = 'ucvm-package-pool/1';

const PoolIndex = z.object({ format: z.literal(poolFormat), packages: z.array(PoolEntry) });

export const indexFileName = 'index.json';
const lockFileName = '.lock';

export function entryKey(name: string, version: string, architecture: string): string {
  return `${name}\0${version}\0${architecture}`;
}

function compareEntries(a: PoolEntry, b: PoolEntry): number {
  const left = entryKey(a.name, a.version, a.architecture);
  const right = entryKey(b.name, b.version, b.architecture);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Reads `index.json`; a pool that has none yet is empty. The file is ours, so it is checked strictly. */
export async function readPoolIndex(dir: string): Promise<PoolEntry[]> {
  const file = path.join(dir, indexFileName);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, (error as Error).message);
  }
  const parsed = PoolIndex.safeParse(data);
  if (!parsed.success)
    throw corrupt(
      file,
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
    );
  return parsed.data.packages;
}

function corrupt(file: string, problem: string): UcvmError {
  return new UcvmError('PACKAGE_VERIFY', `the package pool index ${file} cannot be read`, {
    details: `${problem}\nRestore it from a backup; the .deb files next to it are intact.`,
  });
}

/** Writes `index.json` atomically, sorted by name, version and architecture (stable diffs). */
export async function writePoolIndex(dir: string, entries: readonly PoolEntry[]): Promise<void> {
  const packages = [...entries].sort(compareEntries);
  await writeAtomic(
    path.join(dir, indexFileName),
    `${JSON.stringify({ format: poolFormat, packages }, null, 2)}\n`,
  );
}

/** Size and mtime of the index, to know when another process changed it. */
export async function indexStamp(dir: string): Promise<string> {
  const info = await stat(path.join(dir, indexFileName)).catch(() => undefined);
  return info === undefined ? 'none' : `${info.size}:${info.mtimeMs}`;
}

/**
 * Runs `work` holding the pool's mutex (`<dir>/.lock`), so two builds never write the index
 * at once. Waits up to `waitMs` for another holder, then fails naming it.
 */
export async function withPoolLock<T>(
  dir: string,
  waitMs: number,
  work: () => Promise<T>,
): Promise<T> {
  await mkdir(dir, { recursive: true });
  return withMutex(
    path.join(dir, lockFileName),
    {
      holder: `a build (pid ${process.pid})`,
      waitMs,
      busy: (holder) =>
        new UcvmError('REPO_LOCKED', `the package pool ${dir} is in use by another build`, {
          details: `Held by: ${holder}. Wait for it to finish.`,
        }),
    },
    work,
  );
}
