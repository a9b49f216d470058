import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UcvmError } from '../errors.js';

const currentUid = (): number => process.getuid?.() ?? 0;

/** Group or others may write: anyone in them could swap a key. */
const WRITABLE_BY_OTHERS = 0o022;
/** Group or others may read or write: a private key they can read is no longer private. */
const OPEN_TO_OTHERS = 0o077;

function permissionError(path: string, what: string, fix: string): UcvmError {
  return new UcvmError('KEY_PERMISSIONS', `${path}: ${what}`, {
    details: `Keys are refused when others could read or replace them (as ssh refuses them). ${fix}`,
    where: { path },
  });
}

/**
 * The key directory must be a real directory of this user (or root), writable by nobody else.
 * Creates it 0700 if it does not exist.
 */
export async function checkKeyDirectory(dir: string, create: boolean): Promise<void> {
  let stats = await lstat(dir).catch(() => undefined);
  if (stats === undefined && create) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    stats = await lstat(dir);
  }
  if (stats === undefined) return;
  if (stats.isSymbolicLink() || !stats.isDirectory())
    throw permissionError(
      dir,
      'the key directory is not a real directory',
      'Use a directory, not a symbolic link.',
    );
  if (stats.uid !== currentUid() && stats.uid !== 0)
    throw permissionError(
      dir,
      `the key directory belongs to uid ${stats.uid}`,
      `Use a directory of your own (uid ${currentUid()}).`,
    );
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0)
    throw permissionError(
      dir,
      `the key directory is mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}, writable by others`,
      `Run: chmod 700 ${dir}`,
    );
}

/** A private key readable or writable by group or others is refused, naming the fix. */
export async function checkPrivateKeyFile(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined) return;
  if (!stats.isFile())
    throw permissionError(
      path,
      'the private key is not a regular file',
      'Replace the link with the key file itself.',
    );
  if ((stats.mode & OPEN_TO_OTHERS) !== 0)
    throw permissionError(
      path,
      `the private key is mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}, open to others`,
      `Run: chmod 600 ${path}`,
    );
}

/**
 * Writes a key file so that nothing planted at its name is written through: the bytes go to a
 * new file created exclusively (O_EXCL, O_NOFOLLOW) in the same directory, are flushed, and
 * the new file is renamed over the name (which replaces a symlink, never its target).
 */
export async function writeKeyFile(path: string, content: string, mode: number): Promise<void> {
  const dir = join(path, '..');
  const temp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  let done = false;
  try {
    await handle.chmod(mode);
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
    await rename(temp, path);
    done = true;
  } finally {
    if (!done) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }
}
