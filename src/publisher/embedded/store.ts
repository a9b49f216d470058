import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../exec/index.js';

const hexPairs = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The storage directory of one repository, as a static web server serves it. Objects are
 * written under a temporary name in `data/txn` and renamed into place, so a reader (or a
 * crash) never sees a partial object; fixed-name files are replaced atomically.
 */
export class RepoStore {
  readonly txnDir: string;

  constructor(readonly root: string) {
    this.txnDir = join(root, 'data', 'txn');
  }

  async exists(): Promise<boolean> {
    try {
      await access(join(this.root, '.cvmfspublished'), constants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** Creates `data/00` … `data/ff` and `data/txn`, as the stock server does. */
  async createSkeleton(): Promise<void> {
    await mkdir(this.txnDir, { recursive: true });
    await Promise.all(
      hexPairs.map((pair) => mkdir(join(this.root, 'data', pair), { recursive: true })),
    );
    await writeFile(join(this.root, '.cvmfs_master_replica'), '');
  }

  async read(relative: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.root, relative));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async has(relative: string): Promise<boolean> {
    try {
      await access(join(this.root, relative), constants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** Writes an immutable object unless it exists already; returns true if it wrote it. */
  async putObject(relative: string, bytes: Uint8Array): Promise<boolean> {
    const target = join(this.root, relative);
    if (await this.has(relative)) return false;
    const temp = this.tempPath();
    await writeFile(temp, bytes, { flag: 'wx', mode: 0o644 });
    try {
      // link() fails if the name exists, so a racing writer never replaces an object.
      await link(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(temp);
    }
    return true;
  }

  /** Replaces a fixed-name file (manifest, whitelist) so that readers see the old or the new bytes. */
  async replaceFile(name: string, bytes: Uint8Array): Promise<void> {
    const temp = this.tempPath();
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(this.root, name));
  }

  /** Flushes everything written so far to disk (`syncfs`), before the manifest makes it visible. */
  async flush(): Promise<void> {
    await run('sync', ['-f', this.root]);
  }

  async removeObject(relative: string): Promise<void> {
    await rm(join(this.root, relative), { force: true });
  }

  async objectSize(relative: string): Promise<number> {
    return (await stat(join(this.root, relative))).size;
  }

  /** Every object name under `data/`, as `data/xx/…`. */
  async *listObjects(): AsyncGenerator<string> {
    for (const pair of hexPairs) {
      let names: string[];
      try {
        names = await readdir(join(this.root, 'data', pair));
      } catch {
        continue;
      }
      for (const name of names) yield `data/${pair}/${name}`;
    }
  }

  /** Removes temporary files left by a publish that was killed. Call only while holding the lock. */
  async removeStaleTemporaries(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.txnDir).catch(() => [] as string[])) {
      if (keep.has(name)) continue;
      await rm(join(this.txnDir, name), { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  private tempPath(): string {
    return join(this.txnDir, `tmp.${process.pid}.${randomBytes(6).toString('hex')}`);
  }
}
