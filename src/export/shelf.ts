import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { sha256File, writeAtomic } from '../packages/apt/fetch.js';

/**
 * A shelf: squashfs exports of a repository's snapshots for boots without a CernVM-FS client
 * (src/image/steering/lib/root.sh reads it). `<root hash>.squashfs` per snapshot, and `tags`,
 * one line per tag: `<tag> <root hash> <sha256 of the image> <bytes>`, sorted by tag. Served
 * beside the repository as `<repository URL>/exports/`.
 */
export interface ShelfEntry {
  tag: string;
  rootHash: string;
  sha256: string;
  bytes: number;
}

const LINE = /^([A-Za-z0-9][A-Za-z0-9._-]*) ([0-9a-f]{40,}) ([0-9a-f]{64}) ([0-9]+)$/;

export function parseShelfIndex(text: string): ShelfEntry[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, index) => {
      const match = LINE.exec(line);
      if (match === null)
        throw new UcvmError('REPO_CORRUPT', `the shelf index has a damaged line ${index + 1}`, {
          details: line.slice(0, 200),
        });
      return { tag: match[1]!, rootHash: match[2]!, sha256: match[3]!, bytes: Number(match[4]) };
    });
}

/** The index with `entry` in place of the tag's line (or added), sorted by tag. */
export function withShelfEntry(entries: readonly ShelfEntry[], entry: ShelfEntry): ShelfEntry[] {
  if (!LINE.test(formatLine(entry)))
    throw new UcvmError('TAG_INVALID', `${entry.tag} cannot go into a shelf index`);
  return [...entries.filter((existing) => existing.tag !== entry.tag), entry].sort((a, b) =>
    a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0,
  );
}

export function formatShelfIndex(entries: readonly ShelfEntry[]): string {
  return entries.map((entry) => `${formatLine(entry)}\n`).join('');
}

function formatLine(entry: ShelfEntry): string {
  return `${entry.tag} ${entry.rootHash} ${entry.sha256} ${entry.bytes}`;
}

export function shelfImage(dir: string, rootHash: string): string {
  if (!/^[0-9a-f]{40,}$/.test(rootHash))
    throw new UcvmError('REPO_CORRUPT', `${rootHash} is not a root hash`);
  return path.join(dir, `${rootHash}.squashfs`);
}

/** The shelf's index, empty when the shelf is new. */
export async function readShelfIndex(dir: string): Promise<ShelfEntry[]> {
  try {
    return parseShelfIndex(await readFile(path.join(dir, 'tags'), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Records that `tag` is the image of `rootHash` (already on the shelf), replacing the index by rename. */
export async function recordOnShelf(
  dir: string,
  tag: string,
  rootHash: string,
): Promise<ShelfEntry> {
  const image = shelfImage(dir, rootHash);
  const entry: ShelfEntry = {
    tag,
    rootHash,
    sha256: await sha256File(image),
    bytes: (await stat(image)).size,
  };
  const entries = withShelfEntry(await readShelfIndex(dir), entry);
  await writeAtomic(path.join(dir, 'tags'), formatShelfIndex(entries));
  return entry;
}
