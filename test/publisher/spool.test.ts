import { cpSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { loadPublicKey } from '../../src/keys/index.js';
import { silentLogger } from '../../src/log.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { independentProblems, listObjectFiles } from '../helpers/independent.js';
import { makeRepo, type TestRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

/** Problems found by our verify and by the independent (Python, openssl) check. */
async function verifyAll(repo: TestRepo): Promise<string[]> {
  const independent = independentProblems(repo.storage, repo.base);
  const repository = await Repository.open(directorySource(repo.storage));
  try {
    return [
      ...independent,
      ...(
        await verifyRepository(repository, {
          masterKeys: [await loadPublicKey(path.join(repo.keys, 'test.example.org.pub'))],
          now: new Date(),
          fqrn: 'test.example.org',
        })
      ).problems,
    ];
  } finally {
    repository.close();
  }
}

function tree(count: number, text: string): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`dir/file${i}`, `${text} ${i}\n`]),
  );
}

describe('a spool that does not describe the storage is not trusted', () => {
  it('writes every object again into a storage re-created at the same path', async () => {
    const repo = await makeRepo();
    const source = await tmpdir(tree(5, 'same'));
    await repo.publisher.publish({ tree: source, tag: 'v1' });
    rmSync(path.dirname(repo.storage), { recursive: true });
    await repo.reopen().init({ whitelistDays: 30 });
    const again = await repo.reopen().publish({ tree: source, tag: 'v1' });
    expect(again.stats.unchangedFiles).toBe(0);
    expect(again.stats.objectsWritten).toBe(5);
    expect(await verifyAll(repo)).toEqual([]);
  });

  it('recovers when the storage is restored from an older copy', async () => {
    const repo = await makeRepo();
    const source = await tmpdir(tree(4, 'first'));
    await repo.publisher.publish({ tree: source, tag: 'v1' });
    const backup = path.join(await tmpdir(), 'backup');
    cpSync(repo.storage, backup, { recursive: true });
    writeFileSync(path.join(source, 'dir/file9'), 'only in v2\n');
    await repo.publisher.publish({ tree: source, tag: 'v2' });
    rmSync(repo.storage, { recursive: true });
    cpSync(backup, repo.storage, { recursive: true });
    // The spool knows v2's objects; the restored storage has never seen file9.
    const v3 = await repo.reopen().publish({ tree: source, tag: 'v3' });
    expect(v3.stats.unchangedFiles).toBe(0);
    expect(await verifyAll(repo)).toEqual([]);
  });

  it('stores again an object that vanished behind a spool that still matches', async () => {
    const repo = await makeRepo();
    const source = await tmpdir(tree(3, 'kept'));
    await repo.publisher.publish({ tree: source, tag: 'v1' });
    const contentObjects = listObjectFiles(repo.storage).filter((file) =>
      /\/[0-9a-f]{38}$/.test(file),
    );
    expect(contentObjects).toHaveLength(3);
    unlinkSync(contentObjects[0]!);
    expect(independentProblems(repo.storage, repo.base)).toEqual([
      `missing ${path.basename(path.dirname(contentObjects[0]!))}${path.basename(contentObjects[0]!)}`,
    ]);
    writeFileSync(path.join(source, 'new'), 'new\n');
    await repo.publisher.publish({ tree: source, tag: 'v2' });
    expect(await verifyAll(repo)).toEqual([]);
  });

  it('publishes what the files hold when the spool remembers other content for them', async () => {
    const repo = await makeRepo();
    const source = await tmpdir(tree(3, 'true'));
    await repo.publisher.publish({ tree: source, tag: 'v1' });
    // A spool that lies about one unchanged file: a content that was never stored.
    const db = new Database(path.join(repo.spool, 'state.db'));
    const lied = db
      .prepare("UPDATE file_stamps SET content = ? WHERE source LIKE '%/file1'")
      .run(`zlib:${'e'.repeat(40)}`);
    db.close();
    expect(lied.changes).toBe(1);
    writeFileSync(path.join(source, 'new'), 'new\n');
    const warnings: string[] = [];
    const result = await repo
      .reopen({ logger: { ...silentLogger, warn: (message) => warnings.push(message) } })
      .publish({ tree: source, tag: 'v2' });
    expect(result.stats.files).toBeGreaterThan(0);
    expect(warnings).toContain('objects the spool remembered are missing; storing them again');
    expect(await verifyAll(repo)).toEqual([]);
    const repository = await Repository.open(directorySource(repo.storage));
    try {
      const read = await (await repository.snapshot('v2')).readFile('/dir/file1');
      expect(read.toString()).toBe('true 1\n');
    } finally {
      repository.close();
    }
  });

  it('survives garbage collection by another spool between publishes', async () => {
    const repo = await makeRepo();
    const other = repo.reopen({ spoolDir: path.join(repo.base, 'other-spool') });
    const source = await tmpdir(tree(3, 'one'));
    await repo.publisher.publish({ tree: source, tag: 'v1' });
    writeFileSync(path.join(source, 'dir/file0'), 'two\n');
    await repo.publisher.publish({ tree: source, tag: 'v2' });
    writeFileSync(path.join(source, 'dir/file0'), 'three\n');
    await repo.publisher.publish({ tree: source, tag: 'v2.1' });
    // v1's version of file0 is now unreachable, and this spool remembers storing it.
    await other.removeTag('v1');
    const gc = await other.gc({ apply: true });
    expect(gc.removedObjects).toBeGreaterThan(0);
    writeFileSync(path.join(source, 'dir/file0'), 'one 0\n');
    await repo.publisher.publish({ tree: source, tag: 'v3' });
    expect(await verifyAll(repo)).toEqual([]);
    const repository = await Repository.open(directorySource(repo.storage));
    expect((await (await repository.snapshot('v3')).readFile('/dir/file0')).toString()).toBe(
      'one 0\n',
    );
    repository.close();
  });

  it('leaves no temporary files behind', async () => {
    const repo = await makeRepo();
    await repo.publisher.publish({ tree: await tmpdir(tree(3, 'x')), tag: 'v1' });
    expect(
      readdirSync(path.join(repo.storage, 'data', 'txn')).filter((name) => name.startsWith('tmp.')),
    ).toEqual([]);
  });
});
