import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, linkSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

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

/**
 * Writes an immutable object unless it exists, synchronously (worker threads call this): the
 * bytes go to a new temporary file, which link() puts in place. link() never replaces an
 * existing name, so a racing writer cannot overwrite an object, and a reader (or a crash)
 * never sees a partial one. The temporary file is removed whatever happens. True if written.
 */
export function writeObjectSync(root: string, name: string, bytes: Uint8Array): boolean {
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

export function objectExistsSync(root: string, name: string): boolean {
  try {
    accessSync(join(root, name));
    return true;
  } catch {
    return false;
  }
}
