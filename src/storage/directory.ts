import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UcvmError } from '../errors.js';
import { syncFileSystem } from '../native/sync.js';
import { directorySource, type RepoSource } from '../reader/source.js';
import {
  missingObjectsSync,
  objectExistsSync,
  tempName,
  txnDirectory,
  writeObjectSync,
} from './directory-objects.js';
import { onStorage } from './errors.js';
import { acquireMutex } from '../mutex/index.js';
import type { LockRequest, RepoStorage, WorkerTarget, WriterLock } from './storage.js';

/** The writer mutex of the repository, in `data/txn` (never served: not a repository file name). */
const LOCK_FILE = 'ucvm.lock';

const hexPairs = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A repository in a directory, as a stock web server serves it (and as `cvmfs_server` lays it
 * out): `data/00` … `data/ff`, `data/txn` for temporaries and the writer lock, fixed-name files
 * at the top. Every directory the publisher writes into must be a real directory, not a
 * symlink: whoever can write the storage must not be able to aim our writes elsewhere.
 */
export class DirectoryStorage implements RepoStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get location(): string {
    return this.root;
  }

  source(): RepoSource {
    return directorySource(this.root);
  }

  async prepare(): Promise<void> {
    await onStorage(this.root, 'create', async () => {
      await mkdir(this.root, { recursive: true });
      await this.makeRealDirectory(join(this.root, 'data'));
      await this.makeRealDirectory(txnDirectory(this.root));
      await Promise.all(
        hexPairs.map((pair) => this.makeRealDirectory(join(this.root, 'data', pair))),
      );
      const marker = join(this.root, '.cvmfs_master_replica');
      if (!(await lstat(marker).catch(() => undefined))?.isFile())
        await writeFile(marker, '', { flag: 'wx' }).catch(() => undefined);
    });
  }

  async initialized(): Promise<boolean> {
    return (await lstat(join(this.root, '.cvmfspublished')).catch(() => undefined)) !== undefined;
  }

  read(name: string): Promise<Buffer | undefined> {
    return this.source().read(name);
  }

  missing(names: Iterable<string>): Promise<string[]> {
    // Synchronous calls: for tens of thousands of names, far cheaper than promises.
    return Promise.resolve(missingObjectsSync(this.root, [...names]));
  }

  async putIfAbsent(name: string, bytes: Uint8Array): Promise<boolean> {
    if (objectExistsSync(this.root, name)) return false;
    return onStorage(join(this.root, name), 'write', () =>
      Promise.resolve().then(() => writeObjectSync(this.root, name, bytes)),
    );
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    const temp = tempName(this.root);
    await onStorage(join(this.root, name), 'write', async () => {
      let written = false;
      try {
        const handle = await open(
          temp,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
          0o644,
        );
        try {
          await handle.writeFile(bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        // rename() replaces the name itself: a symlink planted there is replaced, not followed.
        await rename(temp, join(this.root, name));
        written = true;
      } finally {
        if (!written) await unlink(temp).catch(() => undefined);
      }
    });
  }

  async remove(name: string): Promise<void> {
    await onStorage(join(this.root, name), 'remove', () =>
      rm(join(this.root, name), { force: true }),
    );
  }

  async removeAll(names: readonly string[]): Promise<void> {
    for (const name of names) await this.remove(name);
  }

  async *list(): AsyncGenerator<{ name: string; size: number }> {
    for (const pair of hexPairs) {
      const directory = join(this.root, 'data', pair);
      let names: string[];
      try {
        names = await readdir(directory);
      } catch {
        continue;
      }
      for (const entry of names) {
        const stats = await lstat(join(directory, entry)).catch(() => undefined);
        if (stats?.isFile()) yield { name: `data/${pair}/${entry}`, size: stats.size };
      }
    }
  }

  async flush(): Promise<void> {
    // One syncfs of the whole file system: cheaper than an fsync per object.
    await syncFileSystem(this.root);
  }

  async lock(request: LockRequest): Promise<WriterLock> {
    await this.prepare();
    const file = join(txnDirectory(this.root), LOCK_FILE);
    return onStorage(file, 'lock', () =>
      acquireMutex(file, {
        ...request,
        busy: (holder) =>
          new UcvmError('REPO_LOCKED', 'another process is writing to this repository', {
            details: `Held by: ${holder}.\nWait for it to finish, or pass --wait <seconds> to queue behind it.`,
          }),
      }),
    );
  }

  async cleanup(): Promise<number> {
    const keep = new Set([LOCK_FILE, `${LOCK_FILE}-journal`, `${LOCK_FILE}.holder`]);
    const txn = txnDirectory(this.root);
    let removed = 0;
    for (const name of await readdir(txn).catch(() => [] as string[])) {
      if (keep.has(name)) continue;
      await rm(join(txn, name), { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  workerTarget(): WorkerTarget {
    return { kind: 'directory', root: this.root };
  }

  private async makeRealDirectory(path: string): Promise<void> {
    const stats = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (stats === undefined) {
      await mkdir(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      return this.makeRealDirectory(path);
    }
    if (!stats.isDirectory()) {
      throw new UcvmError(
        'STORAGE_UNSAFE',
        `${path} is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
        {
          details:
            'The publisher writes only into real directories of the storage, so that nobody who can write the storage can aim its writes elsewhere. Replace it with a directory (move its objects into it).',
          where: { path },
        },
      );
    }
  }
}
