import { createHash } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PackageRef } from '../package-source.js';
import { sha256File } from './fetch.js';

/**
 * Where an apt source keeps what it downloaded:
 *
 * - `indices/SHA256/<hash>`: Packages files as published (compressed), named by their SHA256, so an
 *   index that did not change between two Release files is never downloaded twice;
 * - `indices/parsed/<hash>.v<format>`: the same index uncompressed and parsed (see
 *   `parsed-cache.ts`), so an unchanged index is neither decompressed nor parsed again;
 * - `releases/<source>/`: the last verified InRelease (or Release + Release.gpg) of each source,
 *   for offline runs;
 * - `debs/<name>_<version>_<arch>.deb`: package files, verified when downloaded.
 *
 * Every file appears by an atomic rename, so a crash leaves either nothing or a whole file.
 */
export interface AptCache {
  readonly dir: string;
  indexFile(sha256: string): string;
  /** The parsed form of the index file with this SHA256, in a given format version. */
  parsedIndexFile(sha256: string, format: number): string;
  releaseDir(uri: string, suite: string): string;
  debFile(ref: PackageRef): string;
}

/** `$XDG_CACHE_HOME/ucvm/apt`, else `~/.cache/ucvm/apt`. */
export function defaultAptCacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'ucvm', 'apt');
}

// apt's own encoding for file names: an epoch's ":" becomes "%3a".
function quote(part: string): string {
  return part.replace(
    /[^A-Za-z0-9.+~-]/g,
    (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

export function createAptCache(dir: string): AptCache {
  return {
    dir,
    indexFile(sha256) {
      return path.join(dir, 'indices', 'SHA256', sha256.toLowerCase());
    },
    parsedIndexFile(sha256, format) {
      return path.join(dir, 'indices', 'parsed', `${sha256.toLowerCase()}.v${format}`);
    },
    releaseDir(uri, suite) {
      const readable = `${uri}_${suite}`
        .replace(/^[a-z]+:\/*/, '')
        .replace(/[^A-Za-z0-9.-]+/g, '_');
      const unique = createHash('sha256').update(`${uri} ${suite}`).digest('hex').slice(0, 12);
      return path.join(dir, 'releases', `${readable.slice(0, 80)}_${unique}`);
    },
    debFile(ref) {
      return path.join(
        dir,
        'debs',
        `${quote(ref.name)}_${quote(ref.version)}_${quote(ref.architecture)}.deb`,
      );
    },
  };
}

/**
 * True if `file` exists with the expected size and, when `fullHash` is set, the expected SHA256.
 * A size check alone is cheap and catches truncated downloads; files only ever appear whole and verified.
 */
export async function cachedFileMatches(
  file: string,
  expected: { size: number; sha256: string },
  fullHash: boolean,
): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (size !== expected.size) return false;
  return !fullHash || (await sha256File(file)) === expected.sha256.toLowerCase();
}

/** A cached index file or table not used (by its mtime) for this long is deleted when another is stored. */
const UNUSED_DAYS = 30;

/**
 * Deletes the files of `dir` named like `name` (besides `keep`) that were not used for
 * `UNUSED_DAYS`, or that `obsolete` rejects by name: every archive update brings new indices,
 * and without this the cache would keep each one forever.
 */
export async function pruneUnused(
  dir: string,
  keep: string,
  name: RegExp,
  obsolete: (name: string) => boolean = () => false,
): Promise<void> {
  const oldest = Date.now() - UNUSED_DAYS * 86_400_000;
  for (const entry of await readdir(dir)) {
    const file = path.join(dir, entry);
    if (!name.test(entry) || file === keep) continue;
    const stale =
      obsolete(entry) || ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0) < oldest;
    if (stale) await rm(file, { force: true });
  }
}
