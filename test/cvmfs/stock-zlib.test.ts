import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressStock, decompress } from '../../src/cvmfs/compression.js';
import { pythonCompress6 } from '../helpers/independent.js';
import { makeRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

function opensslCertificate(dir: string, bits: number): Buffer {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      `rsa:${bits}`,
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=test.example.org',
      '-keyout',
      path.join(dir, `k${bits}.pem`),
      '-out',
      path.join(dir, `c${bits}.pem`),
    ],
    { stdio: 'ignore' },
  );
  return readFileSync(path.join(dir, `c${bits}.pem`));
}

describe('stock zlib', () => {
  it("writes the bytes Python's stock zlib writes at level 6, where Node's zlib does not", async () => {
    const dir = await tmpdir();
    const inputs: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['one byte', Buffer.from('x')],
      ['certificate 2048', opensslCertificate(dir, 2048)],
      ['certificate 4096', opensslCertificate(dir, 4096)],
      ['random 100 kB', randomBytes(100_000)],
      ['repetitive text', Buffer.from('cernvm-system 1.2.3\n'.repeat(50_000))],
      [
        'mixed 1 MiB',
        Buffer.concat(
          Array.from({ length: 16 }, (_, i) =>
            i % 2 ? randomBytes(65536) : Buffer.alloc(65536, i),
          ),
        ),
      ],
    ];
    let nodeDiffers = 0;
    for (const [label, data] of inputs) {
      const stock = pythonCompress6(data);
      expect(compressStock(data).equals(stock), label).toBe(true);
      expect(decompress(compressStock(data)).equals(data), label).toBe(true);
      if (!deflateSync(data).equals(stock)) nodeDiffers++;
    }
    // Why this exists: for most inputs Node's bundled zlib writes other (valid) bytes.
    expect(nodeDiffers).toBeGreaterThan(0);
  });

  it('is what the publisher writes for the certificate object', async () => {
    const repo = await makeRepo();
    await repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' });
    const manifest = readFileSync(path.join(repo.storage, '.cvmfspublished'), 'latin1');
    const hash = manifest
      .split('\n')
      .find((line) => line.startsWith('X'))!
      .slice(1);
    const object = readFileSync(
      path.join(repo.storage, 'data', hash.slice(0, 2), `${hash.slice(2)}X`),
    );
    expect(
      object.equals(pythonCompress6(readFileSync(path.join(repo.keys, 'test.example.org.crt')))),
    ).toBe(true);
  });
});
