import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { loadPublicKey } from '../../src/keys/index.js';
import type { ContentWorkerPool } from '../../src/publisher/embedded/content-pool.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { ucvm } from '../helpers/cli.js';
import { dryPool } from '../helpers/content-pool.js';
import { makeRepo, type TestRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

/** A tmpfs of `size` mounted at `dir` (root only: CI and this machine run tests as root). */
function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  onTestFinished(() => {
    execFileSync('umount', ['-l', dir]);
  });
}

const canMount = process.getuid?.() === 0;
if (!canMount) console.log('skipping the full-disk tests: mounting a tmpfs needs root');

function usedBytes(dir: string): number {
  const stats = statfsSync(dir);
  return (stats.blocks - stats.bfree) * stats.bsize;
}

async function problems(repo: TestRepo): Promise<string[]> {
  const repository = await Repository.open(directorySource(repo.storage));
  try {
    return (
      await verifyRepository(repository, {
        masterKeys: [await loadPublicKey(path.join(repo.keys, 'test.example.org.pub'))],
        now: new Date(),
        fqrn: 'test.example.org',
      })
    ).problems;
  } finally {
    repository.close();
  }
}

describe.skipIf(!canMount)('a full disk', () => {
  it('is a storage error naming the path; the publish removes what it wrote', async () => {
    const base = await tmpdir();
    mountTmpfs(path.join(base, 'srv'), '2m');
    const repo = await makeRepo({ base, chunking: false });
    await repo.publisher.publish({ tree: await tmpdir({ small: 'fits\n' }), tag: 'v1' });
    const before = usedBytes(repo.storage);
    const big = await tmpdir(
      Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`blob${i}`, randomBytes(500_000)])),
    );
    const error = await repo.publisher.publish({ tree: big, tag: 'v2' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUcvmError(error, 'STORAGE_IO'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/ENOSPC/);
    expect((error as Error).message).toContain(repo.storage);
    expect(usedBytes(repo.storage)).toBeLessThanOrEqual(before + 64 * 1024);
    expect(
      readdirSync(path.join(repo.storage, 'data', 'txn')).filter((n) => n.startsWith('tmp.')),
    ).toEqual([]);
    expect(await problems(repo)).toEqual([]);
    // The next run, with room, finishes the job.
    const fits = await tmpdir({ blob0: randomBytes(300_000) });
    await repo.publisher.publish({ tree: fits, tag: 'v2' });
    expect(await problems(repo)).toEqual([]);
  });

  it('fails tag and publish from the CLI with exit status 1, not as bad input or a bug', async () => {
    const base = await tmpdir();
    mountTmpfs(path.join(base, 'srv'), '1m');
    const repo = await makeRepo({ base });
    await repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' });
    const env = { UCVM_SPOOL_DIR: repo.spool };
    const big = await tmpdir({ blob: randomBytes(2_000_000) });
    const publish = ucvm(
      ['repo', 'publish', repo.storage, big, '--keys', repo.keys, '--tag', 'v2'],
      { env },
    );
    expect(publish.status, publish.stderr).toBe(1);
    expect(publish.stderr).toMatch(/error STORAGE_IO: .*ENOSPC/);
    expect(publish.stderr).not.toMatch(/: done,/);
    // Fill what is left, then a tag (a new history object and manifest) has no room either.
    try {
      writeFileSync(path.join(repo.storage, 'filler'), randomBytes(1_100_000));
    } catch {
      // ENOSPC: the disk is full now, which is the point.
    }
    const tag = ucvm(['repo', 'tag', repo.storage, 'HEAD', 'v1', '--keys', repo.keys], { env });
    expect(tag.status, tag.stderr).toBe(1);
    expect(tag.stderr).toMatch(
      /error STORAGE_IO: cannot \w+ .*srv\/test\.example\.org.*: (ENOSPC|SQLITE_FULL)/,
    );
  });
});

describe.skipIf(!canMount)('a full spool', () => {
  it('is a storage error naming the spool, and the repository is untouched', async () => {
    const base = await tmpdir();
    const spool = path.join(base, 'spool');
    mountTmpfs(spool, '256k');
    const repo = await makeRepo({ base, spoolDir: path.join(spool, 'state') });
    try {
      writeFileSync(path.join(spool, 'filler'), randomBytes(400_000));
    } catch {
      // ENOSPC: full now.
    }
    const error = await repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUcvmError(error, 'STORAGE_IO'), String(error)).toBe(true);
    expect((error as Error).message).toContain(spool);
    expect(await problems(repo)).toEqual([]);
  });
});

/** A pool running `source` (a worker script) instead of the content worker. */
async function poolWith(
  source: string,
  size: number,
): Promise<{ pool: ContentWorkerPool; file: string }> {
  const file = path.join(await tmpdir(), 'worker.mjs');
  writeFileSync(file, source);
  const { pool } = await dryPool(size, new URL(`file://${file}`));
  return { pool, file };
}

describe('a content worker that dies', () => {
  it('fails the jobs it had and every later one instead of hanging', async () => {
    const { pool, file } = await poolWith(
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(3));\n",
      2,
    );
    try {
      await expect(pool.storeFile(file, 10)).rejects.toThrow(/exited \(status 3\)/);
      await expect(pool.storeFile(file, 10)).rejects.toThrow(/exited/);
    } finally {
      await pool.close();
    }
  });

  it('fails the jobs of a worker that throws outside a job', async () => {
    const { pool, file } = await poolWith(
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => setTimeout(() => { throw new Error('boom'); }));\n",
      1,
    );
    try {
      await expect(pool.storeFile(file, 10)).rejects.toThrow(/boom/);
    } finally {
      await pool.close();
    }
  });
});

describe('failures leave nothing behind', () => {
  it('checks the whitelist validity before creating keys or storage', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'test.example.org');
    const keys = path.join(base, 'keys');
    const result = ucvm(['repo', 'init', storage, '--keys', keys, '--days', '0']);
    expect(result.status).toBe(2);
    expect(readdirSync(base)).toEqual([]);
  });
});
