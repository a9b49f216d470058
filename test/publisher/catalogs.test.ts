import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { makeRepo, masterKeysOf } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

function wideTree(): Record<string, string> {
  const tree: Record<string, string> = {};
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 3; b++) {
      for (let f = 0; f < 15; f++) tree[`top${a}/mid${b}/f${f}`] = `${a}/${b}/${f}\n`;
    }
  }
  return tree;
}

describe('catalog layout', () => {
  it('splits a catalog that is too large into nested catalogs automatically', async () => {
    const repo = await makeRepo({ partition: { maxEntries: 40, minEntries: 10 } });
    const tree = await tmpdir(wideTree());
    const result = await repo.publisher.publish({ tree, tag: 'split' });
    expect(result.stats.catalogsWritten).toBeGreaterThan(3);
    const repository = await Repository.open(directorySource(repo.storage));
    const snapshot = await repository.snapshot('split');
    const sizes: number[] = [];
    for await (const catalog of snapshot.catalogs()) sizes.push(catalog.file.entries().length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(40);
    expect((await snapshot.readFile('/top3/mid2/f14')).toString()).toBe('3/2/14\n');
    expect(
      (await verifyRepository(repository, { masterKeys: masterKeysOf(repo), now: new Date() }))
        .problems,
    ).toEqual([]);
    repository.close();

    // The same tree gives the same partition: a republish reuses every nested catalog.
    writeFileSync(path.join(tree, 'top0/mid0/f0'), 'changed\n');
    const again = await repo.publisher.publish({ tree, tag: 'split-2' });
    expect(again.stats.catalogsReused).toBe(
      result.stats.catalogsWritten - again.stats.catalogsWritten,
    );
    expect(again.stats.catalogsWritten).toBeLessThanOrEqual(3);
  });

  it("publishes a tree deeper and wider than the scanner's concurrency", async () => {
    const repo = await makeRepo();
    const tree: Record<string, string> = {};
    let deep = '';
    for (let depth = 0; depth < 60; depth++) {
      deep += `/d${depth}`;
      for (let f = 0; f < 3; f++) tree[`${deep.slice(1)}/f${f}`] = `${depth}.${f}`;
    }
    for (let wide = 0; wide < 100; wide++) tree[`wide/w${wide}/x`] = String(wide);
    const result = await repo.publisher.publish({ tree: await tmpdir(tree), tag: 'deep' });
    expect(result.stats.files).toBe(60 * 3 + 100);
  });

  it('stores a changed large file by writing only the chunks that changed', async () => {
    const repo = await makeRepo({
      chunking: { minSize: 64 * 1024, averageSize: 128 * 1024, maxSize: 256 * 1024 },
    });
    const tree = await tmpdir();
    const big = Buffer.alloc(4 * 1024 * 1024);
    let x = 12345;
    for (let i = 0; i < big.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      big[i] = x >>> 24;
    }
    writeFileSync(path.join(tree, 'big'), big);
    const first = await repo.publisher.publish({ tree, tag: 'a' });
    expect(first.stats.objectsWritten).toBeGreaterThan(10);
    // Change a few bytes in the middle: content-defined cuts keep the other chunks.
    big.write('CHANGED', 2 * 1024 * 1024);
    writeFileSync(path.join(tree, 'big'), big);
    const second = await repo.publisher.publish({ tree, tag: 'b' });
    expect(second.stats.objectsWritten).toBeLessThanOrEqual(2);
    const repository = await Repository.open(directorySource(repo.storage));
    expect((await (await repository.snapshot('b')).readFile('/big')).equals(big)).toBe(true);
    repository.close();
  });
});
