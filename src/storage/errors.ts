import { UcvmError } from '../errors.js';

/** errno codes that mean the storage (disk, quota, permissions, device) failed, not the input. */
const STORAGE_ERRNOS = new Set([
  'ENOSPC',
  'EDQUOT',
  'EIO',
  'EROFS',
  'EACCES',
  'EPERM',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
  'EFBIG',
  'ESTALE',
  'EBUSY',
  'ENOTDIR',
  'EISDIR',
  'ELOOP',
  'EEXIST',
  'ENOENT',
  'EXDEV',
]);

/** SQLite result codes of the same kind (better-sqlite3 puts them in `code`). */
const STORAGE_SQLITE = /^SQLITE_(FULL|IOERR|CANTOPEN|READONLY|PERM|NOLFS|CORRUPT|NOTADB)/;

const remedies: Record<string, string> = {
  ENOSPC:
    'The file system is full: free space (`ucvm repo gc --apply` removes unreachable objects), then run again.',
  EDQUOT: 'The disk quota is exhausted: free space or raise the quota, then run again.',
  EROFS: 'The file system is mounted read-only.',
  EACCES: 'This user may not write there: check owner and mode.',
  EPERM: 'This user may not write there: check owner and mode.',
  SQLITE_FULL: 'The file system is full: free space, then run again.',
};

/** True for an I/O error of the storage or the spool (as opposed to a bug or bad input). */
export function isStorageFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return STORAGE_ERRNOS.has(code) || STORAGE_SQLITE.test(code);
}

/**
 * The error for a failed read or write of `path` (exit status 1, code STORAGE_IO), naming the
 * path and the errno; other errors are returned unchanged.
 */
export function storageError(error: unknown, path: string, action = 'write'): unknown {
  if (error instanceof UcvmError || !isStorageFailure(error)) return error;
  const code = (error as { code: string }).code;
  const remedy = remedies[code] ?? remedies[code.replace(/_.*$/, '')];
  return new UcvmError('STORAGE_IO', `cannot ${action} ${path}: ${code}`, {
    details: [(error as Error).message, remedy].filter(Boolean).join('\n'),
    cause: error,
  });
}

/** Runs `work`, turning storage I/O errors into STORAGE_IO errors that name `path`. */
export async function onStorage<T>(
  path: string,
  action: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw storageError(error, path, action);
  }
}
