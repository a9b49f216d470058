import { randomBytes } from 'node:crypto';
import {
  closeSync,
  linkSync,
  lstatSync,
  openSync,
  readdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { nativeAddon } from '../native/addon.js';

/** Temporary files of writers live here until they are linked into place. */
export function txnDirectory(root: string): string {
  return join(root, 'data', 'txn');
}

// Unique per process and thread (each worker thread loads this module afresh), then a counter:
// one random draw per thread rather than one per object.
const threadPrefix = `tmp.${process.pid}.${randomBytes(6).toString('hex')}.`;
let tempCounter = 0;

export function tempName(root: string): string {
  return join(txnDirectory(root), `${threadPrefix}${tempCounter++}`);
}

/** Whether to try unnamed files: false once this thread's file system was seen to make none. */
let unnamedFiles = nativeAddon !== undefined;

/**
 * Writes an immutable object unless it exists, synchronously (worker threads call this): the
 * bytes go to a file without a name yet, which link() puts in place. link() never replaces an
 * existing name, so a racing writer cannot overwrite an object, and a reader (or a crash) never
 * sees a partial one. True if written.
 *
 * The native addon writes an unnamed file (O_TMPFILE) in one call; without it, or where unnamed
 * files cannot be made or named here, a temporary name is written, linked and removed.
 */
export function writeObjectSync(root: string, name: string, bytes: Uint8Array): boolean {
  if (unnamedFiles) {
    const written = nativeAddon!.writeObject(txnDirectory(root), join(root, name), bytes);
    if (written !== undefined) return written;
    unnamedFiles = false;
  }
  return writeThroughTemporaryName(root, name, bytes);
}

/** writeObjectSync through a temporary name, which is removed whatever happens. */
export function writeThroughTemporaryName(root: string, name: string, bytes: Uint8Array): boolean {
  const temp = tempName(root);
  let created = false;
  try {
    const fd = openSync(temp, 'wx', 0o644);
    created = true;
    try {
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, join(root, name));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && created) return false;
    throw error;
  } finally {
    if (created) unlinkSync(temp);
  }
}

/** True if the object is a regular file: a symlink or a directory in its place is no object. */
export function objectExistsSync(root: string, name: string): boolean {
  try {
    return lstatSync(join(root, name), { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false;
  }
}

/**
 * Listing a directory costs about as much as looking up one name per this many bytes of its
 * size (ext4: 4,000 objects, a directory of 280 KB, listed in the time of 1,000 lookups).
 */
const LIST_BYTES_PER_LOOKUP = 300;

/** The 256 directories objects are kept in: `data/00/` … `data/ff/`. */
export const OBJECT_DIRECTORIES: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => `data/${i.toString(16).padStart(2, '0')}/`,
);

/** A directory's size; 0 if it cannot be read (its names are then looked for one by one, and missed). */
function sizeOf(directory: string): number {
  try {
    return lstatSync(directory, { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    return 0;
  }
}

/** The regular files in a directory, or undefined if it cannot be listed. */
function regularFilesIn(directory: string): Set<string> | undefined {
  try {
    const files = new Set<string>();
    for (const entry of readdirSync(directory, { withFileTypes: true }))
      if (entry.isFile()) files.add(entry.name);
    return files;
  } catch {
    return undefined;
  }
}

/** Object names grouped by their directory (`data/ab/`), in the order first seen. */
function byDirectory(names: readonly string[]): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const name of names) {
    const directory = name.slice(0, name.lastIndexOf('/') + 1);
    const inDirectory = grouped.get(directory);
    if (inDirectory === undefined) grouped.set(directory, [name]);
    else inDirectory.push(name);
  }
  return grouped;
}

/**
 * Looks for objects under `root`. Where many names fall in one directory (a republish checks
 * every object of a tree), the directory is listed once instead: 256 listings in place of tens
 * of thousands of lookups. A directory much larger than the names asked of it (an old
 * repository with millions of objects) is not listed; its size tells.
 *
 * A listing is kept for later questions, and may be made ahead (`listAhead`) while there is
 * nothing else to do. A name it holds was a regular file when it was listed; objects are not
 * removed while a publish holds the repository's lock, so it still is. A name an earlier listing
 * lacks may have been written since: that one is looked up (a listing made for the question at
 * hand is its answer, as for a storage that lacks thousands of objects a copy is about to write).
 */
export class ObjectLookup {
  /** Directory (`data/ab/`) → its regular files, or undefined where it could not be listed. */
  private readonly listings = new Map<string, Set<string> | undefined>();

  constructor(private readonly root: string) {}

  /** Lists `directory` now if `expected` names will be asked of it and that is cheaper. */
  listAhead(directory: string, expected: number): void {
    if (this.listings.has(directory)) return;
    const path = join(this.root, directory);
    if (expected * LIST_BYTES_PER_LOOKUP >= sizeOf(path))
      this.listings.set(directory, regularFilesIn(path));
  }

  /** The names among `names` that are not objects (regular files). */
  missing(names: readonly string[]): string[] {
    const missing: string[] = [];
    for (const [directory, inDirectory] of byDirectory(names)) {
      const listedBefore = this.listings.has(directory);
      this.listAhead(directory, inDirectory.length);
      const listed = this.listings.get(directory);
      // A listing made just now is the answer; one made before may lack a name written since.
      const lookUpAbsent = listed === undefined || listedBefore;
      for (const name of inDirectory) {
        const found =
          listed?.has(name.slice(directory.length)) === true ||
          (lookUpAbsent && objectExistsSync(this.root, name));
        if (!found) missing.push(name);
      }
    }
    return missing;
  }
}

/** The names among `names` that are not objects (regular files) under `root`; see ObjectLookup. */
export function missingObjectsSync(root: string, names: readonly string[]): string[] {
  return new ObjectLookup(root).missing(names);
}
