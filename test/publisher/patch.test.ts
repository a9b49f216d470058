import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  linkSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { objectPath } from '../../src/cvmfs/hash.js';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { pythonInflate, sqlite } from '../helpers/independent.js';
import { makeRepo, masterKeysOf, type TestRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { tmpdir } from '../helpers/tmp.js';

/** Every catalog of a tag, uncompressed by python's zlib into files, by mount point. */
async function catalogFiles(
  repo: TestRepo,
  tag: string,
  out: string,
): Promise<Map<string, string>> {
  const repository = await Repository.open(directorySource(repo.storage));
  const files = new Map<string, string>();
  mkdirSync(out, { recursive: true });
  try {
    const snapshot = await repository.snapshot(tag);
    for await (const catalog of snapshot.catalogs()) {
      const file = path.join(out, `${files.size}.sqlite`);
      writeFileSync(file, pythonInflate(path.join(repo.storage, objectPath(catalog.hashHex, 'C'))));
      files.set(catalog.file.mountpoint, file);
    }
  } finally {
    repository.close();
  }
  return files;
}

/** What a catalog says, read by the sqlite3 CLI, in an order that does not depend on rowids. */
function contentOf(file: string): Record<string, string[][]> {
  return {
    rows: sqlite(
      file,
      'SELECT md5path_1, md5path_2, parent_1, parent_2, hardlinks, hex(hash), size, mode, mtime, mtimens, flags, name, symlink, uid, gid, hex(xattr) FROM catalog ORDER BY md5path_1, md5path_2',
    ),
    chunks: sqlite(
      file,
      'SELECT md5path_1, md5path_2, offset, size, hex(hash) FROM chunks ORDER BY 1, 2, 3',
    ),
    nested: sqlite(file, 'SELECT path, size FROM nested_catalogs ORDER BY path'),
    statistics: sqlite(file, 'SELECT counter, value FROM statistics ORDER BY counter'),
    properties: sqlite(
      file,
      "SELECT key, value FROM properties WHERE key NOT IN ('revision', 'last_modified', 'previous_revision') ORDER BY key",
    ),
    root: sqlite(file, 'SELECT name FROM catalog WHERE rowid = 1'),
    integrity: sqlite(file, 'PRAGMA integrity_check'),
  };
}

function mutate(tree: string, round: number): void {
  const at = (relative: string) => path.join(tree, relative);
  writeFileSync(at('etc/motd'), `changed ${round}\n`);
  writeFileSync(at(`new-${round}.txt`), `new file ${round}\n`);
  mkdirSync(at(`dir-${round}/sub`), { recursive: true });
  writeFileSync(at(`dir-${round}/sub/f`), 'f\n');
  if (round === 1) {
    unlinkSync(at('empty'));
    rmSync(at('sw/v1/lib'), { recursive: true });
    chmodSync(at('bin/tool'), 0o700);
    linkSync(at('links/a'), at('links/c'));
    unlinkSync(at('links/sym'));
    symlinkSync('elsewhere', at('links/sym'));
    execFileSync('setfattr', ['-n', 'user.round', '-v', String(round), at('data')]);
    const big = Buffer.alloc(3 * 1024 * 1024, round);
    writeFileSync(at('big.bin'), big);
  }
  if (round === 2) {
    unlinkSync(at('links/b'));
    rmSync(at('dir-1'), { recursive: true });
    writeFileSync(at('sw/v1/bin/x'), 'x2\n');
  }
}

describe('patched catalogs', () => {
  it('say exactly what catalogs written afresh say, row for row', async () => {
    const tree = await tmpdir();
    buildRichTree(tree);
    // Enough rows per catalog that a few changes are worth a patch.
    for (const dir of ['filler', 'sw/filler', 'sw/v1/filler']) {
      mkdirSync(path.join(tree, dir), { recursive: true });
      for (let i = 0; i < 80; i++) writeFileSync(path.join(tree, dir, `f${i}`), `${dir} ${i}\n`);
    }
    const patchedRepo = await makeRepo();
    const first = await patchedRepo.publisher.publish({ tree, tag: 'r0' });
    expect(first.stats.catalogsPatched).toBe(0);
    const work = await tmpdir();

    for (const round of [1, 2, 3]) {
      if (round < 3) mutate(tree, round);
      const patched = await patchedRepo.publisher.publish({ tree, tag: `r${round}` });
      expect(patched.stats.catalogsPatched).toBe(patched.stats.catalogsWritten);
      expect(patched.stats.catalogsWritten).toBeGreaterThan(0);

      // The same tree into a new repository: every catalog written from scratch.
      const freshRepo = await makeRepo();
      const fresh = await freshRepo.publisher.publish({ tree, tag: `r${round}` });
      expect(fresh.stats.catalogsPatched).toBe(0);

      const mine = await catalogFiles(patchedRepo, `r${round}`, path.join(work, `p${round}`));
      const theirs = await catalogFiles(freshRepo, `r${round}`, path.join(work, `f${round}`));
      expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [mountpoint, file] of mine) {
        const content = contentOf(file);
        expect(content.integrity).toEqual([['ok']]);
        expect(content, `catalog ${mountpoint || '/'}`).toEqual(contentOf(theirs.get(mountpoint)!));
      }
    }
    const repository = await Repository.open(directorySource(patchedRepo.storage));
    try {
      const report = await verifyRepository(repository, {
        masterKeys: masterKeysOf(patchedRepo),
        now: new Date(),
      });
      expect(report.problems).toEqual([]);
      const snapshot = await repository.snapshot('r1');
      expect((await snapshot.readFile('/etc/motd')).toString()).toBe('changed 1\n');
      await expect((await repository.snapshot('r0')).readFile('/etc/motd')).resolves.toEqual(
        Buffer.from('hello\n'),
      );
    } finally {
      repository.close();
    }
  });

  it('compares catalogs instead when the stamps do not describe the previous revision', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`d/f${i}`] = String(i);
    const a = await tmpdir(files);
    const b = await tmpdir({ other: 'tree' });
    const repo = await makeRepo();
    const read = async (tag: string, file: string): Promise<string> => {
      const repository = await Repository.open(directorySource(repo.storage));
      try {
        return (await (await repository.snapshot(tag)).readFile(file)).toString();
      } finally {
        repository.close();
      }
    };
    await repo.publisher.publish({ tree: a, tag: 'a1' });
    writeFileSync(path.join(a, 'd/f1'), 'changed');
    expect((await repo.publisher.publish({ tree: a, tag: 'a2' })).stats.catalogsPatched).toBe(1);

    // Another tree in between: the stamps of the first one no longer describe the repository.
    expect((await repo.publisher.publish({ tree: b, tag: 'b1' })).stats.catalogsPatched).toBe(0);
    unlinkSync(path.join(a, 'd/f2'));
    const a3 = await repo.publisher.publish({ tree: a, tag: 'a3' });
    expect(a3.stats.catalogsPatched).toBe(0);
    expect(await read('a3', '/d/f1')).toBe('changed');
    await expect(read('a3', '/d/f2')).rejects.toThrow();

    // Garbage collection forgets stamps: again a comparison, then patches.
    // (a1 and the automatic tags of revision 2 hold the only copies of some objects.)
    await repo.publisher.removeTag('a1');
    await repo.publisher.removeTag('a2');
    expect((await repo.publisher.gc({ apply: true })).removedObjects).toBeGreaterThan(0);
    writeFileSync(path.join(a, 'd/f3'), 'changed too');
    expect((await repo.publisher.publish({ tree: a, tag: 'a4' })).stats.catalogsPatched).toBe(0);
    writeFileSync(path.join(a, 'd/f4'), 'and this');
    expect((await repo.publisher.publish({ tree: a, tag: 'a5' })).stats.catalogsPatched).toBe(1);
    expect(await read('a5', '/d/f3')).toBe('changed too');
    expect(await read('a5', '/d/f4')).toBe('and this');
    expect(await read('b1', '/other')).toBe('tree');

    // Other settings shape rows beyond the stamps: a comparison again.
    const noXattrs = repo.reopen({ xattrs: false });
    writeFileSync(path.join(a, 'd/f5'), 'last');
    expect((await noXattrs.publish({ tree: a, tag: 'a6' })).stats.catalogsPatched).toBe(0);
  });

  it('keeps extended attributes of unchanged entries, read only where stamps changed', async () => {
    const files: Record<string, string> = { cap: 'binary', 'd/plain': 'p' };
    for (let i = 0; i < 40; i++) files[`d/f${i}`] = String(i);
    const tree = await tmpdir(files);
    const setfattr = (file: string, value: string): void =>
      void execFileSync('setfattr', ['-n', 'user.mark', '-v', value, path.join(tree, file)]);
    setfattr('cap', 'one');
    setfattr('d', 'dir');
    const repo = await makeRepo();
    const marks = async (tag: string): Promise<Record<string, string | undefined>> => {
      const repository = await Repository.open(directorySource(repo.storage));
      try {
        const snapshot = await repository.snapshot(tag);
        const mark = async (file: string) =>
          (await snapshot.stat(file)).xattrs?.get('user.mark')?.toString();
        return { cap: await mark('/cap'), d: await mark('/d'), plain: await mark('/d/plain') };
      } finally {
        repository.close();
      }
    };

    // Published first without extended attributes: the spool never read them.
    await repo.reopen({ xattrs: false }).publish({ tree, tag: 'none' });
    expect(await marks('none')).toEqual({ cap: undefined, d: undefined, plain: undefined });
    // With them: another source, so every entry is read, and the spool learns them all.
    await repo.publisher.publish({ tree, tag: 'all' });
    expect(await marks('all')).toEqual({ cap: 'one', d: 'dir', plain: undefined });
    // Only d/f1 changed: the attributes of the others come from the spool.
    writeFileSync(path.join(tree, 'd/f1'), 'changed');
    const patched = await repo.publisher.publish({ tree, tag: 'patched' });
    expect(patched.stats.catalogsPatched).toBe(1);
    expect(await marks('patched')).toEqual({ cap: 'one', d: 'dir', plain: undefined });
    // Row for row and counter for counter what a catalog written afresh says.
    const freshRepo = await makeRepo();
    await freshRepo.publisher.publish({ tree, tag: 'patched' });
    const work = await tmpdir();
    const mine = await catalogFiles(repo, 'patched', path.join(work, 'mine'));
    const theirs = await catalogFiles(freshRepo, 'patched', path.join(work, 'theirs'));
    expect(contentOf(mine.get('')!)).toEqual(contentOf(theirs.get('')!));
    // An attribute set or changed changes the stamp: read afresh, with the changed files (read
    // as soon as the scan is done) and with the other changed entries (the directory, after).
    setfattr('d/plain', 'new');
    setfattr('cap', 'two');
    setfattr('d', 'dir2');
    expect((await repo.publisher.publish({ tree, tag: 'changed' })).stats.catalogsPatched).toBe(1);
    expect(await marks('changed')).toEqual({ cap: 'two', d: 'dir2', plain: 'new' });
    // A value the format cannot hold, set since the last publish, is refused as in a full scan.
    setfattr('d/plain', 'x'.repeat(300));
    const refused = await repo.publisher.publish({ tree, tag: 'refused' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isUcvmError(refused, 'TREE_INVALID'), String(refused)).toBe(true);
    expect((refused as UcvmError).details).toMatch(
      /^\/d\/plain: extended attribute user.mark is 300 bytes/,
    );
  });
});
