import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Hex } from '../../src/cvmfs/hash.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import {
  listObjectFiles,
  opensslRecoverWhitelist,
  opensslSha1,
  opensslVerifyManifest,
  pythonInflate,
  sha1sum,
  splitLetter,
  sqlite,
} from '../helpers/independent.js';
import { makeRepo, type TestRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

describe('what the publisher writes, checked with independent tools', () => {
  let repo: TestRepo;
  let work: string;
  let tree: string;
  let storage: string;

  beforeAll(async () => {
    work = await makeTempDir();
    tree = path.join(work, 'tree');
    buildRichTree(tree);
    repo = await makeRepo({
      base: path.join(work, 'repo'),
      chunking: { minSize: 256 * 1024, averageSize: 512 * 1024, maxSize: 1024 * 1024 },
    });
    storage = repo.storage;
    await repo.publisher.publish({ tree, tag: 'rich-1', description: 'all kinds' });
  });

  afterAll(() => removeDir(work));

  it('names every object by the SHA-1 of its bytes, and every object inflates with python zlib', () => {
    const files = listObjectFiles(storage);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const name = path.basename(path.dirname(file)) + path.basename(file).replace(/[PCHXM]$/, '');
      expect(sha1sum(file)).toBe(name);
      expect(() => pythonInflate(file)).not.toThrow();
    }
  });

  it('signs the manifest so that openssl verifies it with the certificate', () => {
    const bytes = readFileSync(path.join(storage, '.cvmfspublished'));
    const { letter, hashLine } = splitLetter(bytes);
    expect(opensslSha1(work, letter)).toBe(hashLine);
    const certificate = letter.toString().match(/^X([0-9a-f]{40})$/m)![1]!;
    const pem = pythonInflate(
      path.join(storage, 'data', certificate.slice(0, 2), `${certificate.slice(2)}X`),
    ).toString();
    expect(pem).toContain('BEGIN CERTIFICATE');
    expect(opensslVerifyManifest(work, bytes, pem)).toBe('Verified OK');
    expect(letter.toString()).toMatch(new RegExp(`^R${md5Hex('')}$`, 'm'));
    expect(bytes.subarray(bytes.length - 256).length).toBe(256);
  });

  it('signs the whitelist with the master key (raw PKCS#1, recovered by openssl)', () => {
    const bytes = readFileSync(path.join(storage, '.cvmfswhitelist'));
    const { letter, hashLine } = splitLetter(bytes);
    expect(opensslSha1(work, letter)).toBe(hashLine);
    expect(opensslRecoverWhitelist(work, bytes, path.join(repo.keys, 'test.example.org.pub'))).toBe(
      hashLine,
    );
    const certFingerprint = execFileSync('openssl', [
      'x509',
      '-in',
      path.join(repo.keys, 'test.example.org.crt'),
      '-noout',
      '-fingerprint',
      '-sha1',
    ])
      .toString()
      .trim()
      .split('=')[1];
    expect(letter.toString().split('\n')).toContain(certFingerprint);
    expect(letter.toString().split('\n')[2]).toBe('Ntest.example.org');
  });

  it('writes catalogs that the sqlite3 CLI reads with the exact schema and properties', async () => {
    const repository = await Repository.open(directorySource(storage));
    const rootHash = repository.manifest.rootCatalog;
    const rootFile = path.join(work, 'root.db');
    writeFileSync(
      rootFile,
      pythonInflate(path.join(storage, 'data', rootHash.slice(0, 2), `${rootHash.slice(2)}C`)),
    );
    const header = readFileSync(rootFile);
    expect([header[18], header[19]]).toEqual([1, 1]);
    expect(
      sqlite(rootFile, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").flat(),
    ).toEqual([
      'bind_mountpoints',
      'catalog',
      'chunks',
      'nested_catalogs',
      'properties',
      'statistics',
    ]);
    const properties = Object.fromEntries(
      sqlite(rootFile, 'SELECT key, value FROM properties').map(([k, v]) => [k!, v!] as const),
    );
    expect(properties).toMatchObject({
      schema: '2.5',
      schema_revision: '7',
      revision: String(repository.manifest.revision),
      TTL: '240',
    });
    expect(properties.root_prefix).toBeUndefined();
    expect(sqlite(rootFile, 'SELECT count(*) FROM statistics')[0]![0]).toBe('24');
    // The root entry is row 1, with parent (0, 0).
    expect(
      sqlite(
        rootFile,
        'SELECT rowid, md5path_1, md5path_2, parent_1, parent_2, name, flags FROM catalog ORDER BY rowid LIMIT 1',
      )[0],
    ).toEqual(['1', '338333539836370388', '9098107892288553193', '0', '0', '', '1']);
    const row = (name: string): string[] =>
      sqlite(
        rootFile,
        `SELECT flags, size, hardlinks, symlink, uid, gid, mtime, hex(xattr), mode FROM catalog WHERE name = '${name}'`,
      )[0]!;
    expect(row('motd')).toEqual([
      '4',
      '6',
      '1',
      '',
      '0',
      '0',
      '1600000000',
      '01010803757365722E666F6F626172',
      String(0o100644),
    ]);
    expect(row('sym')).toEqual([
      '12',
      '11',
      '1',
      '../etc/motd',
      '0',
      '0',
      expect.any(String) as unknown as string,
      '',
      String(0o120777),
    ]);
    expect(row('a')[2]).toBe(String((1n << 32n) | 2n));
    expect(row('b')[2]).toBe(String((1n << 32n) | 2n));
    expect(row('zero').slice(0, 2)).toEqual(['20', String((1 << 8) | 5)]);
    expect(row('fifo').slice(0, 2)).toEqual(['20', '0']);
    expect(row('ünïcode.txt').slice(4, 6)).toEqual(['1234', '5678']);
    expect(row('sw')[0]).toBe('3');
    // Chunked file: no hash, flag 64, chunks contiguous from 0 summing to the size.
    expect(
      sqlite(rootFile, "SELECT flags, hash IS NULL, size FROM catalog WHERE name = 'big.bin'")[0],
    ).toEqual(['68', '1', String(3 * 1024 * 1024)]);
    const chunks = sqlite(rootFile, 'SELECT offset, size FROM chunks ORDER BY offset').map(
      ([o, s]) => [Number(o), Number(s)] as const,
    );
    expect(chunks.length).toBeGreaterThan(1);
    let expected = 0;
    for (const [offset, size] of chunks) {
      expect(offset).toBe(expected);
      expected += size;
    }
    expect(expected).toBe(3 * 1024 * 1024);
    // Directory link counts: 2 + subdirectories.
    expect(sqlite(rootFile, "SELECT hardlinks FROM catalog WHERE name = ''")[0]![0]).toBe(
      String(2 + 6),
    );

    const [nestedPath, nestedHash, nestedSize] = sqlite(
      rootFile,
      'SELECT path, sha1, size FROM nested_catalogs',
    )[0]!;
    expect(nestedPath).toBe('/sw');
    const nestedFile = path.join(work, 'sw.db');
    writeFileSync(
      nestedFile,
      pythonInflate(
        path.join(storage, 'data', nestedHash!.slice(0, 2), `${nestedHash!.slice(2)}C`),
      ),
    );
    expect(String(readFileSync(nestedFile).length)).toBe(nestedSize);
    expect(
      new Map(sqlite(nestedFile, 'SELECT key, value FROM properties').map(([k, v]) => [k, v])).get(
        'root_prefix',
      ),
    ).toBe('/sw');
    expect(
      sqlite(nestedFile, 'SELECT rowid, name, flags FROM catalog ORDER BY rowid LIMIT 1')[0],
    ).toEqual(['1', 'sw', '33']);
    expect(sqlite(nestedFile, 'SELECT path FROM nested_catalogs').flat()).toEqual(['/sw/v1']);
    expect(
      sqlite(nestedFile, "SELECT count(*) FROM catalog WHERE name = '.cvmfscatalog'")[0]![0],
    ).toBe('1');
    repository.close();
  });

  it('keeps the tags in a history database the sqlite3 CLI reads', async () => {
    const repository = await Repository.open(directorySource(storage));
    const historyHash = repository.manifest.history!;
    const file = path.join(work, 'history.db');
    writeFileSync(
      file,
      pythonInflate(
        path.join(storage, 'data', historyHash.slice(0, 2), `${historyHash.slice(2)}H`),
      ),
    );
    expect(Object.fromEntries(sqlite(file, 'SELECT key, value FROM properties'))).toMatchObject({
      schema: '1.0',
      schema_revision: '3',
      fqrn: 'test.example.org',
    });
    const tags = sqlite(
      file,
      'SELECT name, hash, revision, channel, description, branch FROM tags ORDER BY name',
    );
    expect(tags).toEqual([
      ['rich-1', repository.manifest.rootCatalog, '2', '0', 'all kinds', ''],
      ['trunk', repository.manifest.rootCatalog, '2', '0', 'current HEAD', ''],
      [
        'trunk-previous',
        expect.any(String) as unknown as string,
        '1',
        '0',
        'default undo target',
        '',
      ],
    ]);
    repository.close();
  });

  it('reads back every file through our own reader, byte for byte', async () => {
    const repository = await Repository.open(directorySource(storage));
    const snapshot = await repository.snapshot('rich-1');
    for (const file of [
      'etc/motd',
      'empty',
      'bin/tool',
      'big.bin',
      'links/a',
      'sw/v1/bin/x',
      'sw/v1/lib/y',
      'data/ünïcode.txt',
    ]) {
      expect(
        (await snapshot.readFile(`/${file}`)).equals(readFileSync(path.join(tree, file))),
      ).toBe(true);
    }
    expect((await snapshot.stat('/links/sym')).symlink).toBe('../etc/motd');
    expect((await snapshot.stat('/etc/motd')).xattrs?.get('user.foo')?.toString()).toBe('bar');
    repository.close();
  });
});
