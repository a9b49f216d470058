import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, rmSync } from 'node:fs';
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isUcvmError, UcvmError } from '../errors.js';
import { run } from '../exec/index.js';
import { parseGetfattrDump } from '../publisher/embedded/xattrs.js';
import type { Snapshot } from '../reader/snapshot.js';
import { compareNames } from '../reproducible/ordering.js';
import {
  compareListings,
  expectedListing,
  xattrsField,
  type ListedEntry,
  type Mismatch,
} from './compare.js';
import { collectEntries, decodeDevice, planExport, type ExportEntry } from './plan.js';

export type SquashfsCompression = 'zstd' | 'xz' | 'gzip';

export interface SquashfsExportOptions {
  /** The image file to write (replaced atomically; its directory must exist). */
  out: string;
  compression?: SquashfsCompression;
  /** Superblock time (default: the root catalog's last_modified). */
  mkfsTime?: number;
  /** Regular files fetched at once (default 8). */
  concurrency?: number;
  /** Where the private work directory goes (default: the system temp dir). */
  tmpDir?: string;
  /** Progress lines (phases), e.g. to stderr. */
  onPhase?: (phase: string) => void;
}

export interface SquashfsExportResult {
  out: string;
  rootHash: string;
  /** Entries (every path, the root included), regular files (each inode once) and their bytes. */
  entries: number;
  files: number;
  bytes: number;
  /** Bytes of the image and its sha256. */
  imageBytes: number;
  imageSha256: string;
  compression: SquashfsCompression;
  mkfsTime: number;
  /** Paths compared with the extracted image (all of them). */
  checked: number;
  /** POSIX ACLs of the snapshot that squashfs cannot hold (`<path> <name>`). */
  droppedAcls: string[];
  seconds: number;
}

const WRITE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

function hostPath(root: string, repoPath: string): string {
  return repoPath === '' ? root : path.join(root, ...repoPath.slice(1).split('/'));
}

/** Runs `work` over `items` with at most `limit` at once; the first failure stops new work. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const results = await Promise.allSettled(workers);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

/** Writes a file's content from the reader (each object checked), returning its sha256. */
async function writeContent(snapshot: Snapshot, entry: ExportEntry, file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, WRITE_FLAGS, 0o600);
  let written = 0;
  try {
    for await (const piece of snapshot.contentStream(entry.entry)) {
      written += piece.length;
      if (written > entry.size)
        throw new UcvmError('OBJECT_CORRUPT', `${entry.path} holds more than ${entry.size} bytes`, {
          where: { path: entry.path },
        });
      hash.update(piece);
      let at = 0;
      while (at < piece.length) at += (await handle.write(piece, at)).bytesWritten;
    }
  } finally {
    await handle.close();
  }
  if (written !== entry.size)
    throw new UcvmError(
      'OBJECT_CORRUPT',
      `${entry.path} holds ${written} bytes, the catalog says ${entry.size}`,
      { where: { path: entry.path } },
    );
  return hash.digest('hex');
}

/** A Unix socket file at `file`, made at a short path in `work` and moved (sun_path is short). */
async function makeSocket(work: string, file: string): Promise<void> {
  const short = path.join(work, `s${randomBytes(4).toString('hex')}`);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(short, resolve);
  });
  try {
    await rename(short, file);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `getfattr --restore` input: names octal-escaped byte by byte, values in hex. */
function escapeName(name: string): string {
  let text = '';
  for (const byte of Buffer.from(name)) {
    text +=
      byte > 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x3d
        ? String.fromCharCode(byte)
        : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return text;
}

/**
 * Writes the snapshot's tree below `root` (an empty, private directory): directories, then
 * content (each file created exclusively, never through a link), links and special files, then
 * xattrs, owners, modes and times children first. Returns the sha256 of each written file.
 */
export async function materialize(
  snapshot: Snapshot,
  entries: readonly ExportEntry[],
  root: string,
  work: string,
  concurrency: number,
): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (const entry of entries)
    if (entry.kind === 'directory' && entry.path !== '')
      await mkdir(hostPath(root, entry.path), { mode: 0o700 });
  const primaries = entries.filter(
    (e) => e.kind === 'regular' && (e.linkedTo === undefined || e.linkedTo === e.path),
  );
  await pool(primaries, concurrency, async (entry) => {
    digests.set(entry.path, await writeContent(snapshot, entry, hostPath(root, entry.path)));
  });
  for (const entry of entries) {
    const file = hostPath(root, entry.path);
    switch (entry.kind) {
      case 'regular':
        if (entry.linkedTo !== undefined && entry.linkedTo !== entry.path)
          await link(hostPath(root, entry.linkedTo), file);
        break;
      case 'symlink':
        await symlink(entry.target!, file);
        break;
      case 'chardev':
      case 'blockdev':
        await run('mknod', [
          '-m',
          '0600',
          file,
          entry.kind === 'chardev' ? 'c' : 'b',
          String(entry.device!.major),
          String(entry.device!.minor),
        ]);
        break;
      case 'fifo':
        await run('mknod', ['-m', '0600', file, 'p']);
        break;
      case 'socket':
        await makeSocket(work, file);
        break;
      case 'directory':
        break;
    }
  }
  const withXattrs = entries.filter((e) => e.xattrs !== undefined);
  if (withXattrs.length > 0) {
    const dump = withXattrs
      .map((e) =>
        [
          `# file: ${escapeName(hostPath(root, e.path))}`,
          ...[...e.xattrs!].map(([name, value]) => `${name}=0x${value.toString('hex')}`),
          '',
        ].join('\n'),
      )
      .join('\n');
    const dumpFile = path.join(work, 'xattrs.dump');
    await writeFile(dumpFile, `${dump}\n`, { mode: 0o600 });
    await run('setfattr', ['-h', `--restore=${dumpFile}`]);
  }
  for (const entry of [...entries].reverse()) {
    const file = hostPath(root, entry.path);
    if (entry.linkedTo !== undefined && entry.linkedTo !== entry.path) continue;
    await lchown(file, entry.uid, entry.gid);
    if (entry.kind !== 'symlink') await chmod(file, entry.perm);
    await lutimes(file, entry.mtime, entry.mtime);
  }
  return digests;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    for await (const piece of createReadStream('', { fd: handle.fd, autoClose: false }))
      hash.update(piece as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** What a directory holds, read with lstat (nothing followed) and one getfattr for xattrs. */
export async function listTree(root: string): Promise<Map<string, ListedEntry>> {
  const result = new Map<string, ListedEntry>();
  const inodes = new Map<number, string[]>();
  const { stdout } = await run('getfattr', [
    '-R',
    '-P',
    '-h',
    '-d',
    '-m',
    '-',
    '-e',
    'hex',
    '--absolute-names',
    root,
  ]);
  const xattrs = parseGetfattrDump(stdout);
  const visit = async (file: string, repoPath: string): Promise<void> => {
    const st = await lstat(file);
    const kind = st.isDirectory()
      ? 'directory'
      : st.isFile()
        ? 'regular'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isCharacterDevice()
            ? 'chardev'
            : st.isBlockDevice()
              ? 'blockdev'
              : st.isFIFO()
                ? 'fifo'
                : 'socket';
    const listed: ListedEntry = {
      path: repoPath,
      kind,
      perm: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    if (kind === 'regular') {
      listed.size = st.size;
      listed.nlink = st.nlink;
      listed.sha256 = await hashFile(file);
      if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), repoPath]);
    }
    if (kind === 'symlink') listed.target = await readlink(file);
    if (kind === 'chardev' || kind === 'blockdev') {
      const device = decodeDevice(st.rdev);
      listed.device = `${device.major},${device.minor}`;
    }
    const field = xattrsField(xattrs.get(file));
    if (field !== undefined) listed.xattrs = field;
    result.set(repoPath, listed);
    if (kind === 'directory')
      for (const name of (await readdir(file)).sort(compareNames))
        await visit(path.join(file, name), `${repoPath}/${name}`);
  };
  await visit(root, '');
  for (const paths of inodes.values()) {
    const first = [...paths].sort(compareNames)[0]!;
    for (const member of paths) result.get(member)!.linkedTo = first;
  }
  return result;
}

function mismatchError(out: string, mismatches: readonly Mismatch[]): UcvmError {
  const shown = mismatches
    .slice(0, 20)
    .map((m) =>
      m.problem === 'missing' || m.problem === 'extra'
        ? `- ${m.path}: ${m.problem === 'missing' ? 'in the snapshot, not in the image' : 'in the image, not in the snapshot'}`
        : `- ${m.path}: ${m.problem} is ${m.found}, the snapshot says ${m.expected}`,
    );
  if (mismatches.length > shown.length)
    shown.push(`… and ${mismatches.length - shown.length} more`);
  return new UcvmError(
    'VERIFY_FAILED',
    `the image does not hold the snapshot: ${mismatches.length} differences`,
    { details: [...shown, `Nothing was written to ${out}.`].join('\n') },
  );
}

/** Checks that the image's directory exists and the name is free for a file. */
async function checkOut(out: string): Promise<void> {
  const dir = path.dirname(path.resolve(out));
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory())
    throw new UcvmError('USAGE', `--out ${out}: directory ${dir} does not exist`, {
      details: 'Create the directory first; the export writes only the image file itself.',
    });
  const existing = await lstat(out).catch(() => undefined);
  if (existing !== undefined && !existing.isFile())
    throw new UcvmError('USAGE', `--out ${out} exists and is not a regular file`);
}

/**
 * Exports a snapshot as a squashfs image, read through the (verified) reader: the tree is
 * written into a private temporary directory, packed by mksquashfs reproducibly (same snapshot,
 * same bytes), extracted again by unsquashfs and compared path by path with what the catalogs
 * say and with the bytes the reader streamed; only then is the image renamed to `out`. On any
 * failure nothing is left at `out` (an existing file there stays as it was) nor in the temp dir.
 */
export async function exportSquashfs(
  snapshot: Snapshot,
  options: SquashfsExportOptions,
): Promise<SquashfsExportResult> {
  const started = performance.now();
  const out = path.resolve(options.out);
  const compression = options.compression ?? 'zstd';
  await checkOut(out);
  const phase = options.onPhase ?? ((): void => undefined);
  phase('reading catalogs');
  const plan = planExport(await collectEntries(snapshot));
  const mkfsTime =
    options.mkfsTime ?? (await snapshot.repository.catalog(snapshot.rootHash)).lastModified;
  const work = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'ucvm-export-'));
  const temp = path.join(
    path.dirname(out),
    `.${path.basename(out)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  // A process that ends in the middle (a signal, an unsettled read) leaves no tree behind.
  const removeOnExit = (): void => {
    rmSync(work, { recursive: true, force: true });
    rmSync(temp, { force: true });
  };
  process.once('exit', removeOnExit);
  try {
    const root = path.join(work, 'root');
    await mkdir(root, { mode: 0o700 });
    phase(`writing ${plan.entries.length} entries, ${plan.bytes} bytes`);
    const digests = await materialize(snapshot, plan.entries, root, work, options.concurrency ?? 8);
    phase('mksquashfs');
    await run('mksquashfs', [
      root,
      temp,
      '-noappend',
      '-no-progress',
      '-quiet',
      '-no-recovery',
      '-reproducible',
      '-xattrs',
      '-comp',
      compression,
      '-mkfs-time',
      String(mkfsTime),
    ]);
    phase('unsquashfs and compare');
    const extracted = path.join(work, 'check');
    await run('unsquashfs', ['-no-progress', '-quiet', '-xattrs', '-d', extracted, temp]);
    const mismatches = compareListings(
      expectedListing(plan.entries, digests),
      await listTree(extracted),
    );
    if (mismatches.length > 0) throw mismatchError(out, mismatches);
    const imageSha256 = await hashFile(temp);
    const imageBytes = (await stat(temp)).size;
    await rename(temp, out);
    return {
      out,
      rootHash: snapshot.rootHash,
      entries: plan.entries.length,
      files: plan.files,
      bytes: plan.bytes,
      imageBytes,
      imageSha256,
      compression,
      mkfsTime,
      checked: plan.entries.length,
      droppedAcls: plan.droppedAcls,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  } catch (error) {
    await rm(temp, { force: true });
    if (isUcvmError(error)) throw error;
    throw new UcvmError('STORAGE_IO', `export to ${out} failed: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    process.removeListener('exit', removeOnExit);
    await rm(work, { recursive: true, force: true });
  }
}
