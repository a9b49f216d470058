import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressStock, decompress } from '../../src/cvmfs/compression.js';
import { objectPath } from '../../src/cvmfs/hash.js';
import { pythonCompress6, pythonZlibVersions, stockZlibProblems } from '../helpers/independent.js';
import { makeRepo } from '../helpers/repo.js';
import { manifestLine } from '../helpers/tamper.js';
import { makeTempDir, removeDir, tmpdir } from '../helpers/tmp.js';

/** Deterministic incompressible bytes (SHA-256 in counter mode), so a failure can be replayed. */
function pseudoRandom(seed: string, size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < size; i++)
    blocks.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(blocks).subarray(0, size);
}

function opensslCertificate(dir: string, name: string, key: string[]): Buffer {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...key,
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=stock-zlib.example.org CernVM-FS Release Managers',
      '-keyout',
      path.join(dir, `${name}.key`),
      '-out',
      path.join(dir, `${name}.crt`),
    ],
    { stdio: 'ignore' },
  );
  return readFileSync(path.join(dir, `${name}.crt`));
}

/** Text whose matches are many and close in length, where lazy matching decides the output. */
function nearlyRepetitive(size: number): Buffer {
  const lines: string[] = [];
  let total = 0;
  for (let i = 0; total < size; i++) {
    const line = `/usr/lib/x86_64-linux-gnu/lib${(i * 7919) % 97}.so.${i % 13} ${i * 31}\n`;
    lines.push(line);
    total += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

const inputs: Array<[string, () => Buffer]> = [
  ['empty', () => Buffer.alloc(0)],
  ['one byte', () => Buffer.from('x')],
  ['three bytes (MIN_MATCH)', () => Buffer.from('abc')],
  ...[1, 255, 4096, 32767, 32768, 32769, 65536, 65537, 100_000, 262_151].map(
    (size): [string, () => Buffer] => [`random ${size} B`, () => pseudoRandom(`r${size}`, size)],
  ),
  ['zeros 1 MiB', () => Buffer.alloc(1 << 20)],
  ['repetitive text', () => Buffer.from('cernvm-system 1.2.3\n'.repeat(50_000))],
  ['nearly repetitive text 300 kB', () => nearlyRepetitive(300_000)],
  [
    // Matches at distances at and just past the 32 KiB window.
    'a random block repeated at the window edge',
    () => {
      const block = pseudoRandom('window', 32_760);
      return Buffer.concat([block, block.subarray(0, 100), block, pseudoRandom('tail', 40)]);
    },
  ],
  [
    'mixed 1 MiB',
    () =>
      Buffer.concat(
        Array.from({ length: 16 }, (_, i) =>
          i % 2 ? pseudoRandom(`m${i}`, 65536) : nearlyRepetitive(65536 - i),
        ),
      ),
  ],
  [
    'meta-info JSON',
    () =>
      Buffer.from(
        `${JSON.stringify({ administrator: 'Release Managers', email: 'os@example.org', organisation: 'Example', description: 'an OS booted from CernVM-FS', 'recommended-stratum0': 'http://127.0.0.1/cvmfs/os.example.org' }, null, 2)}\n`,
      ),
  ],
];

describe('stock zlib', () => {
  const certificates: Array<[string, Buffer]> = [];
  beforeAll(async () => {
    const dir = await makeTempDir();
    try {
      const keys: Array<[string, string[]]> = [
        ['RSA 2048', ['-newkey', 'rsa:2048']],
        ['RSA 4096', ['-newkey', 'rsa:4096']],
        ['EC P-256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
      ];
      for (const [name, key] of keys)
        certificates.push([name, opensslCertificate(dir, name.replace(' ', '-'), key)]);
    } finally {
      await removeDir(dir);
    }
  });

  it('compares with a stock zlib: Python runs a plain zlib release, not a fork', () => {
    // Node's is "1.3.1-e00f703" (Chromium's), zlib-ng's compat "1.3.0.zlib-ng": neither is stock.
    const { built, runtime } = pythonZlibVersions();
    expect(runtime).toMatch(/^1\.\d+(\.\d+)*$/);
    expect(built).toBe(runtime);
  });

  it.each(inputs)(
    "compressStock writes the bytes Python's stock zlib writes at level 6: %s",
    (_label, make) => {
      const data = make();
      const ours = compressStock(data);
      expect(ours.equals(pythonCompress6(data))).toBe(true);
      expect(decompress(ours).equals(data)).toBe(true);
    },
  );

  it("compressStock writes stock zlib's bytes for openssl certificates", () => {
    expect(certificates.length).toBe(3);
    for (const [label, pem] of certificates)
      expect(compressStock(pem).equals(pythonCompress6(pem)), label).toBe(true);
  });

  it("is needed: Node's own zlib writes other (valid) bytes for certificates", () => {
    // If Node's zlib ever wrote stock bytes, compressStock would be a needless dependency.
    const differing = certificates.filter(
      ([, pem]) => !deflateSync(pem).equals(pythonCompress6(pem)),
    );
    expect(differing.length).toBeGreaterThan(0);
  });

  it('is what the publisher writes for the certificate object, and the check sees otherwise', async () => {
    const repo = await makeRepo();
    const { publisher, storage, keys } = repo;
    await publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' });
    const file = path.join(storage, objectPath(manifestLine(storage, 'X'), 'X'));
    const stored = readFileSync(file);
    const pem = readFileSync(path.join(keys, 'test.example.org.crt'));
    expect(stored.equals(pythonCompress6(pem))).toBe(true);
    expect(stockZlibProblems(storage)).toEqual([]);
    // The same certificate in Node's bytes (what was stored before) is what the check reports.
    const nodeBytes = deflateSync(pem);
    expect(nodeBytes.equals(stored)).toBe(false);
    writeFileSync(file, nodeBytes);
    expect(stockZlibProblems(storage)).toEqual([`${file}: not stock zlib's level-6 bytes`]);
    writeFileSync(file, stored);
  });
});
