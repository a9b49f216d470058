import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { diffSnapshots } from '../../src/reader/diff.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import type { Repository } from '../../src/reader/repository.js';
import { directorySource, httpSource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { LEASE_NAME, openS3Source } from '../../src/storage/s3/index.js';
import { S3Storage } from '../../src/storage/s3/storage.js';
import { makeRepo, masterKeysOf } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { tmpdir } from '../helpers/tmp.js';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

let s3: S3TestServer;
let buckets = 0;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => s3?.close());

/** A fresh bucket and an initialized repository in it, under a prefix named after the repository. */
async function bucketRepo(fqrn = 'test.example.org', base?: string) {
  const bucket = `ucvm-${++buckets}`;
  await s3.createBucket(bucket);
  const dir = base ?? (await tmpdir());
  const location = `s3://${bucket}/cvmfs/${fqrn}`;
  const keysDir = path.join(dir, 'keys');
  const open = (spool = 'spool') =>
    createEmbeddedPublisher({
      storage: location,
      s3: s3.connection(),
      keysDir,
      spoolDir: path.join(dir, `${spool}-${fqrn}`),
      ...(spool === 'unchunked' && { chunking: false as const }),
    });
  const publisher = open();
  await publisher.init({ whitelistDays: 30 });
  const masterKeys = [createPublicKey(readFileSync(path.join(keysDir, `${fqrn}.pub`)))];
  const url = `${s3.endpoint}/${bucket}/cvmfs/${fqrn}`;
  const read = () => openVerifiedRepository(httpSource(url), { masterKeys, fqrn });
  const storage = () => new S3Storage(location, s3.connection());
  return { bucket, location, keysDir, publisher, open, masterKeys, url, fqrn, read, storage };
}

async function problemsOf(
  repository: Repository,
  masterKeys: ReturnType<typeof createPublicKey>[],
) {
  return (await verifyRepository(repository, { masterKeys, now: new Date() })).problems;
}

/** PUTs of content objects the store received since `from`. */
function dataPuts(from: number): number {
  return s3.requests
    .slice(from)
    .filter((r) => r.method === 'PUT' && /\/data\/[0-9a-f]{2}\//.test(r.path) && r.status === 200)
    .length;
}

describe('a repository in an S3 bucket', () => {
  it("publishes a tree into the bucket; the reader reads it through the bucket's HTTP URL and verifies it", async () => {
    const repo = await bucketRepo();
    const tree = await tmpdir({
      'etc/motd': 'hello from a bucket\n',
      'usr/bin/tool': Buffer.alloc(300_000, 7),
      'usr/share/doc/x': 'x'.repeat(5000),
    });
    const result = await repo.publisher.publish({ tree, tag: 'v1' });
    expect(result.revision).toBe(2);
    const repository = await repo.read();
    const snapshot = await repository.snapshot('v1');
    expect((await snapshot.readFile('/etc/motd')).toString()).toBe('hello from a bucket\n');
    expect((await snapshot.readFile('/usr/bin/tool')).equals(Buffer.alloc(300_000, 7))).toBe(true);
    expect(await problemsOf(repository, repo.masterKeys)).toEqual([]);
    repository.close();
    // Through the S3 API too (a private bucket), and the lease is gone once the publish is over.
    const viaApi = await openVerifiedRepository(openS3Source(repo.location, s3.connection()), {
      masterKeys: repo.masterKeys,
    });
    expect((await (await viaApi.snapshot('v1')).readFile('/etc/motd')).toString()).toBe(
      'hello from a bucket\n',
    );
    viaApi.close();
    expect(
      await repo.storage().missing([LEASE_NAME, '.cvmfspublished', '.cvmfs_master_replica']),
    ).toEqual([LEASE_NAME]);
  });

  it('uploads an object above 16 MiB in parts, and it reads back whole', async () => {
    const repo = await bucketRepo('large.example.org');
    const { randomBytes } = await import('node:crypto');
    const big = randomBytes(20 << 20);
    const tree = await tmpdir({ 'big.bin': big });
    const from = s3.requests.length;
    // Without chunking the file is one object of 20 MiB (random bytes do not compress).
    await repo.open('unchunked').publish({ tree, tag: 'v1' });
    const requests = s3.requests.slice(from);
    expect(
      requests.filter((r) => r.method === 'POST' && r.path.includes('uploads')).length,
    ).toBeGreaterThan(0);
    expect(
      requests.filter((r) => r.method === 'PUT' && r.path.includes('partNumber=')).length,
    ).toBe(3);
    const repository = await repo.read();
    expect((await (await repository.snapshot('v1')).readFile('/big.bin')).equals(big)).toBe(true);
    repository.close();
  });

  it('republishes only what changed, and a lost spool falls back to the catalogs in the bucket', async () => {
    const repo = await bucketRepo();
    const tree = await tmpdir();
    buildRichTree(tree);
    await repo.publisher.publish({ tree, tag: 'v1' });

    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(tree, 'changed-file'), 'new content\n');
    let from = s3.requests.length;
    const second = await repo.publisher.publish({ tree, tag: 'v2' });
    expect(second.stats.unchangedFiles).toBeGreaterThan(0);
    expect(dataPuts(from)).toBeLessThanOrEqual(4); // the new file, catalogs, history

    // Another machine (an empty spool): nothing it reads is trusted, nothing stored goes again.
    writeFileSync(path.join(tree, 'changed-file'), 'newer content\n');
    from = s3.requests.length;
    const third = await repo.open('other-machine').publish({ tree, tag: 'v3' });
    expect(third.stats.unchangedFiles).toBe(0);
    expect(third.stats.objectsWritten).toBeLessThanOrEqual(4);
    expect(dataPuts(from)).toBeLessThanOrEqual(4);

    const repository = await repo.read();
    expect(await problemsOf(repository, repo.masterKeys)).toEqual([]);
    const diff = await diffSnapshots(
      await repository.snapshot('v2'),
      await repository.snapshot('v3'),
    );
    expect(diff.changes.map((change) => change.path)).toEqual(['/changed-file']);
    repository.close();
  });

  it('promotes between a directory and a bucket, both ways, copying only what the target lacks', async () => {
    const base = await tmpdir();
    const dev = await makeRepo({ base, fqrn: 'dev.example.org' });
    const tree = await tmpdir();
    buildRichTree(tree);
    await dev.publisher.publish({ tree, tag: 'cernvm-system-1.0.0' });
    const devRepository = await openVerifiedRepository(directorySource(dev.storage), {
      masterKeys: masterKeysOf(dev),
    });
    const devRoot = (await devRepository.snapshot('cernvm-system-1.0.0')).rootHash;

    // directory → bucket
    const prod = await bucketRepo('prod.example.org', base);
    const first = await prod.publisher.importSnapshot({
      source: devRepository,
      rootHash: devRoot,
      tag: 'cernvm-system-1.0.0',
    });
    expect(first.rootHash).toBe(devRoot);
    expect(first.stats.objectsCopied).toBeGreaterThan(0);
    const again = await prod.publisher.importSnapshot({
      source: devRepository,
      rootHash: devRoot,
      tag: 'cernvm-system-1.0.0',
    });
    expect(again.unchanged).toBe(true);
    const prodRepository = await prod.read();
    expect(await problemsOf(prodRepository, prod.masterKeys)).toEqual([]);
    const diff = await diffSnapshots(
      await devRepository.snapshot('cernvm-system-1.0.0'),
      await prodRepository.snapshot('cernvm-system-1.0.0'),
    );
    expect(diff.changes).toEqual([]);

    // bucket → directory: a second directory repository, fed from the bucket over HTTP.
    const mirror = await makeRepo({ base, fqrn: 'mirror.example.org' });
    const back = await mirror.publisher.importSnapshot({
      source: prodRepository,
      rootHash: devRoot,
      tag: 'cernvm-system-1.0.0',
    });
    expect(back.rootHash).toBe(devRoot);
    expect(back.stats.objectsCopied).toBe(first.stats.objectsCopied);
    devRepository.close();
    prodRepository.close();
  });

  it('collects garbage in the bucket: a dry run first, then deletes only what no tag reaches', async () => {
    const repo = await bucketRepo();
    const tree = await tmpdir({ 'a.txt': 'first version\n', 'keep.txt': 'kept\n' });
    await repo.publisher.publish({ tree, tag: 'v1' });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(tree, 'a.txt'), 'second version\n');
    await repo.publisher.publish({ tree, tag: 'v2' });
    await repo.publisher.removeTag('v1');
    // trunk-previous still reaches v1's catalog until another publish moves it.
    writeFileSync(path.join(tree, 'a.txt'), 'third version\n');
    await repo.publisher.publish({ tree, tag: 'v3' });
    await repo.publisher.removeTag('v2');

    const before = [];
    for await (const entry of repo.storage().list()) before.push(entry.name);
    const dry = await repo.publisher.gc({ apply: false });
    expect(dry.unreachableObjects).toBeGreaterThan(0);
    expect(dry.removedObjects).toBe(0);
    const during = [];
    for await (const entry of repo.storage().list()) during.push(entry.name);
    expect(during.sort()).toEqual(before.sort());

    const applied = await repo.publisher.gc({ apply: true });
    expect(applied.removedObjects).toBe(dry.unreachableObjects);
    const after = new Set<string>();
    for await (const entry of repo.storage().list()) after.add(entry.name);
    expect(after.size).toBe(before.length - dry.unreachableObjects);
    for (const name of dry.sample) expect(after.has(name)).toBe(false);
    const repository = await repo.read();
    expect(await problemsOf(repository, repo.masterKeys)).toEqual([]);
    expect((await (await repository.snapshot('v3')).readFile('/a.txt')).toString()).toBe(
      'third version\n',
    );
    repository.close();
    expect((await repo.publisher.gc({ apply: false })).unreachableObjects).toBe(0);
  });
});
