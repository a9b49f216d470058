import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import type { Repository } from '../../src/reader/repository.js';
import { diffSnapshots } from '../../src/reader/diff.js';
import { directorySource, httpSource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { serveDirectory } from '../helpers/http-server.js';
import { independentProblems, listObjectFiles } from '../helpers/independent.js';
import { makeRepo, masterKeysOf, type TestRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { manifestLine } from '../helpers/tamper.js';
import { tmpdir } from '../helpers/tmp.js';

const SMALL_CHUNKS = { minSize: 64 * 1024, averageSize: 128 * 1024, maxSize: 256 * 1024 };

async function open(repo: TestRepo, location = repo.storage): Promise<Repository> {
  return openVerifiedRepository(
    location.startsWith('http') ? httpSource(location) : directorySource(location),
    { masterKeys: masterKeysOf(repo), fqrn: path.basename(repo.storage) },
  );
}

/** A source (dev) and a target (prod) repository side by side, keys in one directory. */
async function pipeline(): Promise<{ dev: TestRepo; prod: TestRepo }> {
  const base = await tmpdir();
  const dev = await makeRepo({ base, fqrn: 'dev.example.org', chunking: SMALL_CHUNKS });
  const prod = await makeRepo({ base, fqrn: 'prod.example.org', chunking: SMALL_CHUNKS });
  return { dev, prod };
}

async function richTree(): Promise<string> {
  const tree = await tmpdir();
  buildRichTree(tree);
  return tree;
}

async function expectSameSnapshot(
  from: Repository,
  fromRef: string,
  to: Repository,
  toRef: string,
) {
  const diff = await diffSnapshots(await from.snapshot(fromRef), await to.snapshot(toRef));
  expect(diff.changes).toEqual([]);
}

async function verified(repo: TestRepo): Promise<string[]> {
  const repository = await open(repo);
  try {
    return (
      await verifyRepository(repository, {
        masterKeys: masterKeysOf(repo),
        now: new Date(),
        fqrn: path.basename(repo.storage),
      })
    ).problems;
  } finally {
    repository.close();
  }
}

describe('importSnapshot (promotion by object copy)', () => {
  it('copies a snapshot with the same root catalog, identical to the source, and it verifies', async () => {
    const { dev, prod } = await pipeline();
    await prod.publisher.publish({ tree: await tmpdir({ old: 'production 1\n' }), tag: 'v0' });
    const tree = await richTree();
    const published = await dev.publisher.publish({ tree, tag: 'v1', description: 'from dev' });
    const source = await open(dev);
    try {
      const result = await prod.publisher.importSnapshot({
        source,
        rootHash: published.rootHash,
        tag: 'v1',
        description: 'promoted',
        rollingTags: ['HEAD'],
      });
      expect(result.unchanged).toBe(false);
      expect(result.rootHash).toBe(published.rootHash);
      expect(result.stats.catalogs).toBeGreaterThanOrEqual(3);
      expect(result.stats.catalogsCopied).toBe(result.stats.catalogs);
      expect(result.stats.objectsCopied).toBe(result.stats.objects);
      expect(manifestLine(prod.storage, 'C')).toBe(published.rootHash);
      const target = await open(prod);
      try {
        const tags = await target.tags();
        expect(tags.find((tag) => tag.name === 'v1')).toMatchObject({
          hashHex: published.rootHash,
          description: 'promoted',
        });
        expect(tags.find((tag) => tag.name === 'HEAD')?.hashHex).toBe(published.rootHash);
        expect(tags.find((tag) => tag.name === 'v0')).toBeDefined();
        await expectSameSnapshot(source, 'v1', target, 'v1');
        // Chunked files came along chunk by chunk.
        const big = (await target.snapshot('v1')).lookup('/big.bin');
        expect((await big)?.chunks?.length ?? 0).toBeGreaterThan(1);
      } finally {
        target.close();
      }
    } finally {
      source.close();
    }
    expect(await verified(prod)).toEqual([]);
    expect(independentProblems(prod.storage, await tmpdir())).toEqual([]);
  });

  it('transfers only what the target lacks: one changed file is one object and its catalogs', async () => {
    const { dev, prod } = await pipeline();
    const tree = await richTree();
    const first = await dev.publisher.publish({ tree, tag: 'v1' });
    const source = await open(dev);
    await prod.publisher.importSnapshot({ source, rootHash: first.rootHash, tag: 'v1' });
    source.close();
    writeFileSync(path.join(tree, 'data/ünïcode.txt'), 'unicode, patched\n');
    const second = await dev.publisher.publish({ tree, tag: 'v2' });
    const again = await open(dev);
    try {
      const result = await prod.publisher.importSnapshot({
        source: again,
        rootHash: second.rootHash,
        tag: 'v2',
      });
      expect(result.stats.objectsCopied).toBe(1);
      // Only the root catalog holds the file; /sw and /sw/v1 are reused.
      expect(result.stats).toMatchObject({ catalogs: 3, catalogsCopied: 1 });
      const target = await open(prod);
      try {
        await expectSameSnapshot(again, 'v2', target, 'v2');
      } finally {
        target.close();
      }
    } finally {
      again.close();
    }
    expect(await verified(prod)).toEqual([]);
  });

  it('reads the source over HTTP and counts the bytes it fetched', async () => {
    const { dev, prod } = await pipeline();
    const published = await dev.publisher.publish({ tree: await richTree(), tag: 'v1' });
    const objectsBefore = new Set(listObjectFiles(prod.storage));
    const server = await serveDirectory(path.dirname(dev.storage));
    try {
      const source = await open(dev, `${server.url}/${path.basename(dev.storage)}`);
      try {
        const result = await prod.publisher.importSnapshot({
          source,
          rootHash: published.rootHash,
          tag: 'v1',
        });
        // Every new object but the new history came from the source, and was counted.
        const copied = listObjectFiles(prod.storage).filter(
          (name) => !objectsBefore.has(name) && !name.endsWith('H'),
        );
        expect(copied).toHaveLength(result.stats.objectsCopied + result.stats.catalogsCopied);
        const bytes = copied.reduce((sum, name) => sum + readFileSync(name).length, 0);
        expect(result.stats.bytesCopied).toBe(bytes);
      } finally {
        source.close();
      }
    } finally {
      await server.close();
    }
    expect(await verified(prod)).toEqual([]);
  });

  it('numbers the revision above both the target and the reused catalog', async () => {
    const { dev, prod } = await pipeline();
    const tree = await tmpdir({ a: '0\n' });
    let last = await dev.publisher.publish({ tree, tag: 'v0' });
    for (let i = 1; i <= 5; i++) {
      writeFileSync(path.join(tree, 'a'), `${i}\n`);
      last = await dev.publisher.publish({ tree, tag: `v${i}` });
    }
    expect(last.revision).toBe(7);
    const source = await open(dev);
    try {
      const result = await prod.publisher.importSnapshot({
        source,
        rootHash: last.rootHash,
        tag: 'v5',
      });
      // prod was at revision 1; the catalog says 7: clients that mounted it must see 8 as newer.
      expect(result.revision).toBe(7);
      await prod.publisher.publish({ tree: await tmpdir({ a: 'hotfix\n' }), tag: 'v5.1' });
      expect(manifestLine(prod.storage, 'S')).toBe('8');
    } finally {
      source.close();
    }
    expect(await verified(prod)).toEqual([]);
  });

  it('stops at a corrupt source object, naming it and its file; nothing is published or left', async () => {
    const { dev, prod } = await pipeline();
    await prod.publisher.publish({ tree: await tmpdir({ old: 'production\n' }), tag: 'v0' });
    const tree = await tmpdir({ 'etc/motd': 'hello\n', 'etc/issue': 'Debian GNU/Linux 12\n' });
    const published = await dev.publisher.publish({ tree, tag: 'v1' });
    const before = readFileSync(path.join(prod.storage, '.cvmfspublished'));
    const objectsBefore = listObjectFiles(prod.storage).sort();
    const source = await open(dev);
    const snapshot = await source.snapshot('v1');
    const motd = await snapshot.lookup('/etc/motd');
    const hash = Buffer.from(motd!.hash!.digest).toString('hex');
    const file = path.join(dev.storage, 'data', hash.slice(0, 2), hash.slice(2));
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(file, bytes);
    try {
      const error = await prod.publisher
        .importSnapshot({ source, rootHash: published.rootHash, tag: 'v1' })
        .then(
          () => undefined,
          (failure: unknown) => failure,
        );
      expect(isUcvmError(error, 'OBJECT_CORRUPT')).toBe(true);
      expect((error as Error).message).toContain(hash.slice(2));
      expect((error as Error).message).toContain('/etc/motd');
    } finally {
      source.close();
    }
    expect(readFileSync(path.join(prod.storage, '.cvmfspublished'))).toEqual(before);
    expect(listObjectFiles(prod.storage).sort()).toEqual(objectsBefore);
  });

  it('refuses a tag that holds other content, and is a no-op when the tag holds this one', async () => {
    const { dev, prod } = await pipeline();
    await prod.publisher.publish({ tree: await tmpdir({ a: 'prod\n' }), tag: 'v1' });
    const published = await dev.publisher.publish({
      tree: await tmpdir({ a: 'dev\n' }),
      tag: 'v1',
    });
    const source = await open(dev);
    try {
      const error = await prod.publisher
        .importSnapshot({ source, rootHash: published.rootHash, tag: 'v1' })
        .catch((failure: unknown) => failure);
      expect(isUcvmError(error, 'TAG_IMMUTABLE')).toBe(true);
      const imported = await prod.publisher.importSnapshot({
        source,
        rootHash: published.rootHash,
        tag: 'v2',
        rollingTags: ['HEAD'],
      });
      const manifest = readFileSync(path.join(prod.storage, '.cvmfspublished'));
      const again = await prod.publisher.importSnapshot({
        source,
        rootHash: published.rootHash,
        tag: 'v2',
        rollingTags: ['HEAD'],
      });
      expect(again).toMatchObject({ unchanged: true, revision: imported.revision });
      expect(readFileSync(path.join(prod.storage, '.cvmfspublished'))).toEqual(manifest);
      const fixed = await prod.publisher
        .importSnapshot({ source, rootHash: published.rootHash, tag: 'v3', rollingTags: ['v1'] })
        .catch((failure: unknown) => failure);
      expect(isUcvmError(fixed, 'TAG_IMMUTABLE')).toBe(true);
    } finally {
      source.close();
    }
  });

  it('writes nothing in a dry run, but counts what it would copy', async () => {
    const { dev, prod } = await pipeline();
    const published = await dev.publisher.publish({ tree: await richTree(), tag: 'v1' });
    const before = readdirSync(path.join(prod.storage, 'data'), { recursive: true }).length;
    const source = await open(dev);
    try {
      const result = await prod.publisher.importSnapshot({
        source,
        rootHash: published.rootHash,
        tag: 'v1',
        dryRun: true,
      });
      expect(result.dryRun).toBe(true);
      expect(result.stats.objectsCopied).toBeGreaterThan(3);
    } finally {
      source.close();
    }
    expect(readdirSync(path.join(prod.storage, 'data'), { recursive: true }).length).toBe(before);
  });
});
