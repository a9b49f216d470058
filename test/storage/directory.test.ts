import {
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { DirectoryStorage } from '../../src/storage/directory.js';
import { makeRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

describe('the directory storage', () => {
  it('refuses to write through a data directory that is a symbolic link', async () => {
    const repo = await makeRepo();
    const outside = await tmpdir({ 'precious.txt': 'not yours\n' });
    const pair = path.join(repo.storage, 'data', 'ab');
    for (const name of readdirSync(pair))
      renameSync(path.join(pair, name), path.join(outside, name));
    // An attacker with write access to the storage aims data/ab at a host directory.
    renameSync(pair, `${pair}.gone`);
    symlinkSync(outside, pair);
    const error = await repo.publisher.gc({ apply: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUcvmError(error, 'STORAGE_UNSAFE'), String(error)).toBe(true);
    expect((error as Error).message).toContain('data/ab');
    const publish = await repo.publisher.publish({ tree: await tmpdir({ a: '1' }) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUcvmError(publish, 'STORAGE_UNSAFE'), String(publish)).toBe(true);
    expect(readFileSync(path.join(outside, 'precious.txt'), 'utf8')).toBe('not yours\n');
  });

  it('replaces a planted symbolic link instead of writing through it', async () => {
    const root = path.join(await tmpdir(), 'x.example.org');
    const storage = new DirectoryStorage(root);
    await storage.prepare();
    const victim = path.join(await tmpdir({ victim: 'host file\n' }), 'victim');
    symlinkSync(victim, path.join(root, '.cvmfswhitelist'));
    await storage.replace('.cvmfswhitelist', Buffer.from('new\n'));
    expect(readFileSync(victim, 'utf8')).toBe('host file\n');
    expect(lstatSync(path.join(root, '.cvmfswhitelist')).isFile()).toBe(true);
  });

  it('never replaces an object that exists, and reports what is missing', async () => {
    const root = path.join(await tmpdir(), 'y.example.org');
    const storage = new DirectoryStorage(root);
    await storage.prepare();
    const name = `data/12/${'3'.repeat(38)}`;
    expect(await storage.putIfAbsent(name, Buffer.from('first'))).toBe(true);
    expect(await storage.putIfAbsent(name, Buffer.from('second'))).toBe(false);
    expect(readFileSync(path.join(root, name), 'utf8')).toBe('first');
    const other = `data/12/${'4'.repeat(38)}`;
    expect(await storage.missing([name, other])).toEqual([other]);
    expect(readdirSync(path.join(root, 'data', 'txn'))).toEqual([]);
    mkdirSync(path.join(root, 'data', '12', 'notafile'));
    writeFileSync(path.join(root, 'data', '12', `${'5'.repeat(38)}C`), 'c');
    const listed = [];
    for await (const entry of storage.list()) listed.push(entry);
    expect(listed.map((entry) => entry.name).sort()).toEqual([name, `data/12/${'5'.repeat(38)}C`]);
  });

  it('counts only regular files as objects, whether it lists a directory or looks names up', async () => {
    const root = path.join(await tmpdir(), 'z.example.org');
    const storage = new DirectoryStorage(root);
    await storage.prepare();
    const object = (pair: string, i: number): string =>
      `data/${pair}/${String(i).padStart(38, '0')}`;
    // data/ab: many objects, of which few are asked for (looked up one by one); data/cd: all
    // asked for (listed). In each, one name is a symbolic link and one a directory.
    for (const pair of ['ab', 'cd'])
      for (let i = 0; i < 400; i++) writeFileSync(path.join(root, object(pair, i)), 'x');
    for (const pair of ['ab', 'cd']) {
      const real = path.join(root, object(pair, 0));
      symlinkSync(real, path.join(root, object(pair, 1000)));
      mkdirSync(path.join(root, object(pair, 1001)));
    }
    const fewOfMany = [0, 7, 1000, 1001, 2000].map((i) => object('ab', i));
    const allOfThem = [...Array.from({ length: 400 }, (_, i) => i), 1000, 1001, 2000].map((i) =>
      object('cd', i),
    );
    const missing = await storage.missing([...fewOfMany, ...allOfThem]);
    expect(missing).toEqual(
      [1000, 1001, 2000]
        .flatMap((i) => [object('ab', i)])
        .concat([1000, 1001, 2000].map((i) => object('cd', i))),
    );
  });
});
