import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../src/native/addon.js';
import { DirectoryStorage } from '../../src/storage/directory.js';
import {
  ObjectLookup,
  txnDirectory,
  writeObjectSync,
  writeThroughTemporaryName,
} from '../../src/storage/directory-objects.js';
import { tmpdir } from '../helpers/tmp.js';

const object = (i: number): string => `data/ab/${String(i).padStart(38, '0')}`;

/** A storage root whose data/ab holds objects 0 … count-1. */
async function withObjects(count: number): Promise<string> {
  const root = await tmpdir();
  mkdirSync(path.join(root, 'data', 'ab'), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(path.join(root, object(i)), 'x');
  return root;
}

describe('object lookups in a directory storage', () => {
  it('answers from a listing made ahead, and looks up a name written since', async () => {
    const root = await withObjects(300);
    const lookup = new ObjectLookup(root);
    lookup.listAhead('data/ab/', 300);
    // Written after the listing: not in it, but an object all the same.
    writeFileSync(path.join(root, object(300)), 'x');
    // Listed as an object, then turned into something else: the listing is what answers.
    rmSync(path.join(root, object(0)));
    mkdirSync(path.join(root, object(0)));
    const asked = Array.from({ length: 302 }, (_, i) => object(i));
    expect(lookup.missing(asked)).toEqual([object(301)]);
    // A lookup without the listing sees the directory where object 0 was.
    expect(new ObjectLookup(root).missing(asked)).toEqual([object(0), object(301)]);
  });

  it('does not list ahead a directory far larger than the names expected of it', async () => {
    const root = await withObjects(2000);
    const lookup = new ObjectLookup(root);
    lookup.listAhead('data/ab/', 1);
    // Not listed: a name removed since is looked up, and found missing.
    rmSync(path.join(root, object(5)));
    expect(lookup.missing([object(4), object(5)])).toEqual([object(5)]);
  });
});

async function storageRoot(): Promise<string> {
  const root = path.join(await tmpdir(), 'o.example.org');
  const storage = new DirectoryStorage(root);
  await storage.prepare();
  return root;
}

describe.each([
  ['an unnamed file (the native addon)', writeObjectSync, nativeAddon !== undefined],
  ['a temporary name', writeThroughTemporaryName, true],
] as const)('writing an object through %s', (_label, write, available) => {
  it.runIf(available)(
    'writes it once, never over a name that exists, and leaves nothing behind',
    async () => {
      const root = await storageRoot();
      const name = `data/ab/${'1'.repeat(38)}`;
      const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
      expect(write(root, name, bytes)).toBe(true);
      expect(readFileSync(path.join(root, name))).toEqual(bytes);
      expect(lstatSync(path.join(root, name)).mode & 0o777).toBe(0o644 & ~process.umask());
      expect(write(root, name, Buffer.from('other'))).toBe(false);
      expect(readFileSync(path.join(root, name))).toEqual(bytes);
      // A symlink planted under an object's name is neither followed nor replaced.
      const victim = path.join(await tmpdir({ victim: 'host file\n' }), 'victim');
      const planted = `data/ab/${'2'.repeat(38)}`;
      symlinkSync(victim, path.join(root, planted));
      expect(write(root, planted, Buffer.from('payload'))).toBe(false);
      expect(readFileSync(victim, 'utf8')).toBe('host file\n');
      expect(lstatSync(path.join(root, planted)).isSymbolicLink()).toBe(true);
      expect(readdirSync(path.join(root, 'data', 'txn'))).toEqual([]);
    },
  );

  it.runIf(available)('throws the error code of a directory that is not there', async () => {
    const root = await storageRoot();
    let caught: unknown;
    try {
      write(root, `data/zz/${'3'.repeat(38)}`, Buffer.from('x'));
    } catch (error) {
      caught = error;
    }
    expect((caught as NodeJS.ErrnoException | undefined)?.code).toBe('ENOENT');
    expect(readdirSync(path.join(root, 'data', 'txn'))).toEqual([]);
  });
});

it.runIf(nativeAddon !== undefined)(
  'is an unnamed file here: the addon does not fall back on this file system',
  async () => {
    const root = await storageRoot();
    const target = path.join(root, `data/cd/${'4'.repeat(38)}`);
    expect(nativeAddon!.writeObject(txnDirectory(root), target, Buffer.from('x'))).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('x');
  },
);
