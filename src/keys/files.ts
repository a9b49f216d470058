import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UcvmError } from '../errors.js';

const currentUid = (): number => process.getuid?.() ?? 0;

/** Group or others may write: anyone in them could swap a key. */
const WRITABLE_BY_OTHERS = 0o022;
/** Group or others may read or write: a private key they can read is no longer private. */
const OPEN_TO_OTHERS = 0o077;
/** A PEM key is a few kB; anything far larger is not a key (and is not read whole). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');

const SSH_WHY = 'Keys are refused when others could read or replace them (as ssh refuses them).';

function permissionError(path: string, what: string, fix: string, why = SSH_WHY): UcvmError {
  return new UcvmError('KEY_PERMISSIONS', `${path}: ${what}`, {
    details: why === '' ? fix : `${why} ${fix}`,
  });
}

function ownedByAnother(stats: Stats): boolean {
  return stats.uid !== currentUid() && stats.uid !== 0;
}

/**
 * The key directory must be a real directory of this user (or root), writable by nobody else.
 * Creates it 0700 if it does not exist and `create` is set.
 */
export async function checkKeyDirectory(dir: string, create: boolean): Promise<void> {
  let stats = await lstat(dir).catch(() => undefined);
  if (stats === undefined && create) {
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      throw permissionError(
        dir,
        `the key directory cannot be created (${error.code})`,
        'Create it yourself (mode 0700), or choose another with --keys or UCVM_KEYS_DIR.',
        '',
      );
    });
    stats = await lstat(dir);
  }
  if (stats === undefined) return;
  if (stats.isSymbolicLink() || !stats.isDirectory())
    throw permissionError(
      dir,
      `the key directory is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
      'Use the real directory, not a symbolic link to it.',
    );
  if (ownedByAnother(stats))
    throw permissionError(
      dir,
      `the key directory belongs to uid ${stats.uid}`,
      `Use a directory of your own (uid ${currentUid()}), or run: chown ${currentUid()} ${dir}`,
    );
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0)
    throw permissionError(
      dir,
      `the key directory is mode ${octal(stats.mode)}, writable by group or others`,
      `Run: chmod 700 ${dir}`,
    );
}

function missing(path: string, role: string): UcvmError {
  return new UcvmError('KEY_MISSING', `the ${role} is missing: ${path}`, {
    details:
      'Create keys with `ucvm keys init <repo>`, or point --keys (or UCVM_KEYS_DIR) at the directory that holds them.',
  });
}

function tooLarge(path: string, role: string, size: number): UcvmError {
  return new UcvmError('KEY_INVALID', `the ${role} ${path} is not a PEM key`, {
    details: `It is ${size} bytes; a key file is a few kB (at most ${MAX_KEY_FILE_BYTES} bytes are read).`,
  });
}

/**
 * Reads a private key: its directory checked, the file opened without following a link, and
 * what was opened (not what the name pointed to a moment before) checked: a regular file of
 * this user (or root) that group and others can neither read nor write.
 */
export async function readPrivateKeyFile(path: string, role: string): Promise<string> {
  await checkKeyDirectory(dirname(path), false);
  // O_NONBLOCK: a FIFO planted at the name is refused below instead of hanging the open.
  const handle = await open(
    path,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw missing(path, role);
    if (error.code === 'ELOOP')
      throw permissionError(
        path,
        `the ${role} is a symbolic link`,
        'Put the key file itself in the key directory.',
      );
    throw permissionError(path, `the ${role} cannot be read (${error.code})`, 'Check its mode.');
  });
  try {
    const stats = await handle.stat();
    if (!stats.isFile())
      throw permissionError(
        path,
        `the ${role} is not a regular file`,
        'Put the key file itself in the key directory.',
      );
    if (ownedByAnother(stats))
      throw permissionError(
        path,
        `the ${role} belongs to uid ${stats.uid}`,
        `Run: chown ${currentUid()} ${path}`,
      );
    if ((stats.mode & OPEN_TO_OTHERS) !== 0)
      throw permissionError(
        path,
        `the ${role} is mode ${octal(stats.mode)}, open to group or others`,
        `Run: chmod 600 ${path}`,
      );
    if (stats.size > MAX_KEY_FILE_BYTES) throw tooLarge(path, role, stats.size);
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_KEY_FILE_BYTES) throw tooLarge(path, role, bytesRead);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Reads a public key file or certificate (links followed: they are public), bounded. */
export async function readPublicKeyFile(path: string, role: string): Promise<string> {
  const stats = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') throw missing(path, role);
    throw new UcvmError('KEY_MISSING', `the ${role} cannot be read: ${path}`, {
      details: `Opening it failed with ${error.code}. Check the path and its mode.`,
    });
  });
  if (!stats.isFile())
    throw new UcvmError('KEY_INVALID', `the ${role} ${path} is not a file`, {
      details: 'Point at the PEM file itself.',
    });
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_KEY_FILE_BYTES) throw tooLarge(path, role, stats.size);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Writes a key file so that nothing planted at its name is written through: the bytes go to a
 * new file created exclusively (O_EXCL, O_NOFOLLOW) in the same directory, are flushed, and
 * the new file is renamed over the name (which replaces a symlink, never its target).
 */
export async function writeKeyFile(path: string, content: string, mode: number): Promise<void> {
  const temp = join(dirname(path), `.tmp-${randomBytes(8).toString('hex')}`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  ).catch((error: NodeJS.ErrnoException) => {
    throw permissionError(
      path,
      `no key file can be created in ${dirname(path)} (${error.code})`,
      'Use a key directory of your own (mode 0700) with --keys or UCVM_KEYS_DIR.',
      '',
    );
  });
  let done = false;
  try {
    await handle.chmod(mode);
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
    await rename(temp, path).catch((error: NodeJS.ErrnoException) => {
      throw permissionError(
        path,
        `the key file cannot be replaced (${error.code})`,
        'Something other than a key file is in its place: remove it.',
        '',
      );
    });
    done = true;
  } finally {
    if (!done) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }
}
