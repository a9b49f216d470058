import { refuseEntry } from './refuse.js';

/** The archive name of the root directory, always the first entry. */
export const rootPath = '.';

/** The kernel's PATH_MAX: the unpacker refuses longer names (the count includes the NUL). */
const maxNameBytes = 4096;

/**
 * The archive name of an entry: relative, without a leading `/` or `./` or a trailing `/`.
 * Empty, `.` and `..` components are refused rather than resolved, so a name means one place.
 */
export function archivePath(given: string): string {
  if (given.includes('\0')) throw refuseEntry(given, 'the name contains a NUL byte');
  const trimmed = given
    .replace(/^\/+/, '')
    .replace(/^\.\/+/, '')
    .replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') return rootPath;
  for (const component of trimmed.split('/')) {
    if (component === '..') throw refuseEntry(given, 'the name contains ".."');
    if (component === '' || component === '.') {
      throw refuseEntry(given, 'the name has an empty or "." component');
    }
  }
  if (Buffer.byteLength(trimmed) + 1 > maxNameBytes) {
    throw refuseEntry(given, `the name is longer than ${maxNameBytes - 1} bytes`);
  }
  return trimmed;
}

/** The directory holding `path` (the root for a top-level name); undefined for the root itself. */
export function parentPath(path: string): string | undefined {
  if (path === rootPath) return undefined;
  const slash = path.lastIndexOf('/');
  return slash < 0 ? rootPath : path.slice(0, slash);
}

/**
 * Archive order: the root first, then names by their UTF-8 bytes, the same on every machine and
 * locale; a directory's name is a prefix of its children's, so it always comes before them.
 */
export function compareArchivePaths(a: string, b: string): number {
  if (a === b) return 0;
  if (a === rootPath) return -1;
  if (b === rootPath) return 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
