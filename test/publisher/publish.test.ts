import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError, type ErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { makeRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';
import { listObjectFiles, sqlite } from '../helpers/independent.js';
import { parseObjectPath } from '../../src/cvmfs/hash.js';

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUcvmError(error) ? error.code : error).toBe(code);
}

/** Every file under the storage with its size, to prove that nothing changed. */
function storageListing(storage: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, name.name);
      if (name.isDirectory()) walk(full);
      else if (!full.includes(`${path.sep}txn${path.sep}`))
        out.push(`${path.relative(storage, full)} ${readFileSync(full).length}`);
    }
  };
  walk(storage);
  return out.sort();
}

function sampleTree(): Record<string, string> {
  const tree: Record<string, string> = {};
  for (let d = 0; d < 5; d++) {
    tree[`pkg${d}/.cvmfscatalog`] = '';
    for (let f = 0; f < 20; f++)
      tree[`pkg${d}/lib/file${f}.txt`] = `package ${d} file ${f}\n`.repeat(f + 1);
  }
  tree['etc/motd'] = 'welcome\n';
  return tree;
}

describe('publishing revisions', () => {
  it('gives every publish a new revision and keeps every tag readable', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ a: '1' });
    const first = await repo.publisher.publish({ tree, tag: 'one' });
    writeFileSync(path.join(tree, 'a'), '2');
    const second = await repo.publisher.publish({ tree, tag: 'two' });
    const third = await repo.publisher.publish({ tree });
    expect([first.revision, second.revision, third.revision]).toEqual([2, 3, 4]);
    expect(third.tag).toMatch(/^generic-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const repository = await Repository.open(directorySource(repo.storage));
    expect((await (await repository.snapshot('one')).readFile('/a')).toString()).toBe('1');
    expect((await (await repository.snapshot('two')).readFile('/a')).toString()).toBe('2');
    const tags = Object.fromEntries((await repository.tags()).map((t) => [t.name, t.revision]));
    expect(tags).toMatchObject({ one: 2, two: 3, trunk: 4, 'trunk-previous': 3 });
    repository.close();
  });

  it('rewrites only the changed file and the catalogs on its path', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir(sampleTree());
    const full = await repo.publisher.publish({ tree, tag: 'full' });
    expect(full.stats.catalogsWritten).toBe(6);
    writeFileSync(path.join(tree, 'pkg3/lib/file7.txt'), 'changed\n');
    const objectsBefore = listObjectFiles(repo.storage).length;
    const again = await repo.publisher.publish({ tree, tag: 'incremental' });
    expect(again.stats.unchangedFiles).toBe(full.stats.files - 1);
    expect(again.stats.objectsWritten).toBe(1);
    expect(again.stats.catalogsWritten).toBe(2);
    expect(again.stats.catalogsReused).toBe(4);
    // file + two catalogs + history; the certificate object exists already.
    expect(listObjectFiles(repo.storage).length).toBe(objectsBefore + 4);
  });

  it('reuses the unchanged nested catalogs of a tree the spool does not know, by tree digest', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir(sampleTree());
    const full = await repo.publisher.publish({ tree, tag: 'full' });
    expect(full.stats.catalogsWritten).toBe(6);
    // Another source: no stamps describe it, so every catalog is compared with its previous
    // version by digest, and the digests the first publish did not record are computed then.
    const copy = path.join(await tmpdir(), 'copy');
    execFileSync('cp', ['-a', tree, copy]);
    writeFileSync(path.join(copy, 'pkg3/lib/file7.txt'), 'changed\n');
    const again = await repo.publisher.publish({ tree: copy, tag: 'copy' });
    expect(again.stats.unchangedFiles).toBe(0);
    expect(again.stats.catalogsWritten).toBe(2);
    expect(again.stats.catalogsReused).toBe(4);
    const repository = await Repository.open(directorySource(repo.storage));
    const snapshot = await repository.snapshot('copy');
    expect((await snapshot.readFile('/pkg3/lib/file7.txt')).toString()).toBe('changed\n');
    repository.close();
  });

  it('does not recompress content it has stored before, even from a fresh tree', async () => {
    const repo = await makeRepo();
    const content = sampleTree();
    const first = await repo.publisher.publish({ tree: await tmpdir(content), tag: 'a' });
    const second = await repo.publisher.publish({ tree: await tmpdir(content), tag: 'b' });
    expect(second.stats.unchangedFiles).toBe(0);
    expect(second.stats.knownContent).toBe(first.stats.files);
    expect(second.stats.objectsWritten).toBe(0);
  });

  it('treats republishing a tag with the same content as a no-op and refuses other content', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir(sampleTree());
    const first = await repo.publisher.publish({ tree, tag: 'cernvm-system-1.0.0' });
    const listing = storageListing(repo.storage);
    const again = await repo.publisher.publish({ tree, tag: 'cernvm-system-1.0.0' });
    expect(again).toMatchObject({
      unchanged: true,
      revision: first.revision,
      rootHash: first.rootHash,
    });
    // A copy with the same metadata is the same snapshot (compared by content, not by inode).
    const copy = path.join(await tmpdir(), 'copy');
    execFileSync('cp', ['-a', tree, copy]);
    expect(await repo.publisher.publish({ tree: copy, tag: 'cernvm-system-1.0.0' })).toMatchObject({
      unchanged: true,
    });
    writeFileSync(path.join(tree, 'etc/motd'), 'other\n');
    await expectCode(repo.publisher.publish({ tree, tag: 'cernvm-system-1.0.0' }), 'TAG_IMMUTABLE');
    expect(storageListing(repo.storage)).toEqual(listing);
  });

  it('moves rolling tags without writing catalogs, and refuses to move named tags', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ v: '1' });
    const v1 = await repo.publisher.publish({ tree, tag: 'v1' });
    writeFileSync(path.join(tree, 'v'), '2');
    const v2 = await repo.publisher.publish({ tree, tag: 'v2' });
    const moved = await repo.publisher.tag({ name: 'HEAD', target: 'v2' });
    expect(moved).toMatchObject({ rootHash: v2.rootHash, unchanged: false });
    const catalogsBefore = listObjectFiles(repo.storage).filter((f) => f.endsWith('C')).length;
    const back = await repo.publisher.tag({ name: 'HEAD', target: 'v1' });
    expect(back).toMatchObject({ rootHash: v1.rootHash, previousRootHash: v2.rootHash });
    expect(listObjectFiles(repo.storage).filter((f) => f.endsWith('C')).length).toBe(
      catalogsBefore,
    );
    const state = await repo.publisher.state();
    expect(state.revision).toBe(v2.revision);
    await expectCode(repo.publisher.tag({ name: 'v1', target: 'v2' }), 'TAG_IMMUTABLE');
    await expectCode(repo.publisher.tag({ name: 'trunk', target: 'v1' }), 'TAG_RESERVED');
    const repository = await Repository.open(directorySource(repo.storage));
    expect((await (await repository.snapshot('HEAD')).readFile('/v')).toString()).toBe('1');
    repository.close();
  });
});

describe('bad input changes nothing', () => {
  it.each([
    [
      'a name that is not UTF-8',
      (tree: string) =>
        writeFileSync(Buffer.concat([Buffer.from(`${tree}/bad-`), Buffer.from([0xff, 0xfe])]), 'x'),
    ],
    [
      'a name with a line break',
      (tree: string) => writeFileSync(path.join(tree, 'line\nbreak'), 'x'),
    ],
    [
      'an extended attribute longer than 255 bytes',
      (tree: string) => {
        writeFileSync(path.join(tree, 'big-xattr'), 'x');
        execFileSync('setfattr', [
          '-n',
          'user.big',
          '-v',
          'x'.repeat(300),
          path.join(tree, 'big-xattr'),
        ]);
      },
    ],
    ['a reserved /.cvmfs directory', (tree: string) => mkdirSync(path.join(tree, '.cvmfs'))],
  ])('refuses a tree with %s', async (_label, spoil) => {
    const repo = await makeRepo();
    const tree = await tmpdir({ 'ok.txt': 'fine' });
    spoil(tree);
    const listing = storageListing(repo.storage);
    await expectCode(repo.publisher.publish({ tree, tag: 'bad' }), 'TREE_INVALID');
    expect(storageListing(repo.storage)).toEqual(listing);
  });

  it('removes what it stored while the scan went on when the scan then finds a problem', async () => {
    const warnings: string[] = [];
    const repo = await makeRepo({ logger: { ...silentLogger, warn: (m) => warnings.push(m) } });
    // Enough directories that the scan hands files to the workers before it ends.
    const files: Record<string, string> = {};
    for (let i = 0; i < 4000; i++) files[`d${i % 200}/f${i}`] = `file ${i}\n`.repeat(1 + (i % 9));
    const tree = await tmpdir(files);
    writeFileSync(path.join(tree, 'line\nbreak'), 'x');
    const listing = storageListing(repo.storage);
    await expectCode(repo.publisher.publish({ tree, tag: 'bad' }), 'TREE_INVALID');
    expect(warnings).toContain('removed the objects the failed publish wrote');
    expect(storageListing(repo.storage)).toEqual(listing);
    const temporary = readdirSync(path.join(repo.storage, 'data', 'txn')).filter((name) =>
      name.startsWith('tmp.'),
    );
    expect(temporary).toEqual([]);
  });

  it('refuses invalid and reserved tag names', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ a: '1' });
    await expectCode(repo.publisher.publish({ tree, tag: 'has space' }), 'TAG_INVALID');
    await expectCode(repo.publisher.publish({ tree, tag: 'trunk' }), 'TAG_RESERVED');
  });

  it('refuses a repository name that is not a valid FQRN', async () => {
    const base = await tmpdir();
    await expectCode(makeRepo({ base, fqrn: 'not-qualified' }), 'FQRN_INVALID');
  });

  it('refuses to publish without keys, and with an expired whitelist', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ a: '1' });
    const listing = storageListing(repo.storage);
    await expectCode(
      repo.reopen({ keysDir: path.join(repo.base, 'nokeys') }).publish({ tree, tag: 'x' }),
      'KEY_MISSING',
    );
    const future = repo.reopen({ now: () => new Date(Date.now() + 40 * 24 * 3600_000) });
    await expectCode(future.publish({ tree, tag: 'x' }), 'WHITELIST_EXPIRED');
    expect(storageListing(repo.storage)).toEqual(listing);
    await repo.publisher.resign(60);
    await expect(future.publish({ tree, tag: 'x' })).resolves.toMatchObject({ tag: 'x' });
  });
});

describe('verification', () => {
  it('verifies a published repository and finds a corrupted object', async () => {
    const repo = await makeRepo();
    await repo.publisher.publish({ tree: await tmpdir(sampleTree()), tag: 'v' });
    const masterKeys = [
      createPublicKey(readFileSync(path.join(repo.keys, 'test.example.org.pub'))),
    ];
    const repository = await Repository.open(directorySource(repo.storage));
    const ok = await verifyRepository(repository, { masterKeys, now: new Date() });
    expect(ok.problems).toEqual([]);
    expect(ok.ok).toBe(true);
    repository.close();
    const victim = listObjectFiles(repo.storage).find((f) => !/[CHX]$/.test(f))!;
    writeFileSync(victim, 'garbage');
    const again = await Repository.open(directorySource(repo.storage));
    const bad = await verifyRepository(again, { masterKeys, now: new Date() });
    expect(bad.ok).toBe(false);
    expect(bad.problems.join('\n')).toContain('does not match its hash');
    again.close();
  });
});

describe('garbage collection', () => {
  it('removes only objects no tag reaches, after a dry run', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ keep: 'kept content', drop: 'dropped content' });
    await repo.publisher.publish({ tree, tag: 'first' });
    rmSync(path.join(tree, 'drop'));
    await repo.publisher.publish({ tree, tag: 'second' });
    await repo.publisher.removeTag('first');
    await repo.publisher.publish({ tree, tag: 'third' });
    const before = listObjectFiles(repo.storage).length;
    const dry = await repo.publisher.gc({ apply: false });
    expect(dry.dryRun).toBe(true);
    expect(dry.unreachableObjects).toBeGreaterThan(0);
    expect(listObjectFiles(repo.storage).length).toBe(before);
    const spoolMentions = (hash: string): number =>
      Number(
        sqlite(
          path.join(repo.spool, 'state.db'),
          `SELECT (SELECT count(*) FROM contents WHERE content LIKE '%${hash}%') + (SELECT count(*) FROM file_stamps WHERE content LIKE '%${hash}%')`,
        )[0]![0],
      );
    const removedHashes = dry.sample.map((name) => parseObjectPath(name)!.hashHex);
    // The dropped file's content object is among them, and the spool remembers it.
    expect(removedHashes.map(spoolMentions).some((count) => count > 0)).toBe(true);
    const applied = await repo.publisher.gc({ apply: true });
    expect(applied.removedObjects).toBe(dry.unreachableObjects);
    expect(listObjectFiles(repo.storage).length).toBe(before - dry.unreachableObjects);
    const masterKeys = [
      createPublicKey(readFileSync(path.join(repo.keys, 'test.example.org.pub'))),
    ];
    const repository = await Repository.open(directorySource(repo.storage));
    expect((await verifyRepository(repository, { masterKeys, now: new Date() })).problems).toEqual(
      [],
    );
    repository.close();
    // The spool forgot every removed object before it was deleted.
    expect(removedHashes.map(spoolMentions)).toEqual(removedHashes.map(() => 0));
    // The dropped content is gone; publishing it again must write it again.
    writeFileSync(path.join(tree, 'drop'), 'dropped content');
    const again = await repo.publisher.publish({ tree, tag: 'fourth' });
    expect(again.stats.objectsWritten).toBeGreaterThanOrEqual(1);
  });
});
