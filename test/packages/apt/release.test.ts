import { describe, expect, it } from 'vitest';
import {
  byHashPath,
  checkValidUntil,
  packagesCandidates,
  parseRelease,
} from '../../../src/packages/apt/release.js';
import { createPackageIndex, parsePackages } from '../../../src/packages/apt/packages.js';
import { dearmor } from '../../../src/packages/apt/signature.js';
import { isUcvmError } from '../../../src/errors.js';

const hash = (char: string) => char.repeat(64);

const releaseText = `Origin: Debian
Suite: stable
Codename: bookworm
Date: Sat, 10 May 2025 08:45:29 UTC
Valid-Until: Sat, 17 May 2025 08:45:29 UTC
Architectures: all amd64 arm64
Components: main contrib
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
SHA256:
 ${hash('a')}  1000 main/binary-amd64/Packages
 ${hash('b')}   300 main/binary-amd64/Packages.gz
 ${hash('c')}   250 main/binary-amd64/Packages.xz
 ${hash('d')}    20 main/binary-all/Packages.xz
`;

describe('parseRelease', () => {
  const release = parseRelease(releaseText, 'http://x/dists/stable/InRelease');

  it('reads the fields ucvm uses', () => {
    expect(release.suite).toBe('stable');
    expect(release.codename).toBe('bookworm');
    expect(release.date?.toISOString()).toBe('2025-05-10T08:45:29.000Z');
    expect(release.validUntil?.toISOString()).toBe('2025-05-17T08:45:29.000Z');
    expect(release.architectures).toEqual(['all', 'amd64', 'arm64']);
    expect(release.components).toEqual(['main', 'contrib']);
    expect(release.acquireByHash).toBe(true);
    expect(release.noBinaryAll).toBe(true);
    expect(release.files.get('main/binary-amd64/Packages.gz')).toEqual({
      path: 'main/binary-amd64/Packages.gz',
      size: 300,
      sha256: hash('b'),
    });
  });

  it.each([
    [['xz', 'gz', 'none'] as const, ['Packages.xz', 'Packages.gz', 'Packages']],
    [['gz', 'none'] as const, ['Packages.gz', 'Packages']],
  ])('orders index candidates by compression %j', (compressions, expected) => {
    const candidates = packagesCandidates(release, 'main', 'amd64', compressions);
    expect(candidates.map((candidate) => candidate.path.split('/').at(-1))).toEqual(expected);
    expect(packagesCandidates(release, 'contrib', 'amd64', compressions)).toEqual([]);
  });

  it('names by-hash paths', () => {
    const file = release.files.get('main/binary-amd64/Packages.xz');
    expect(file && byHashPath(file)).toBe(`main/binary-amd64/by-hash/SHA256/${hash('c')}`);
  });

  it('checks Valid-Until', () => {
    expect(() => checkValidUntil(release, 'u', new Date('2025-05-16T00:00:00Z'))).not.toThrow();
    let caught: unknown;
    try {
      checkValidUntil(release, 'u', new Date('2025-05-18T00:00:00Z'));
    } catch (error) {
      caught = error;
    }
    expect(isUcvmError(caught, 'RELEASE_SIGNATURE')).toBe(true);
  });

  it('refuses a Release without SHA256 sums', () => {
    expect(() =>
      parseRelease('Suite: stable\nMD5Sum:\n 0123 10 main/binary-amd64/Packages\n', 'u'),
    ).toThrow(/no SHA256/);
  });
});

describe('parsePackages and createPackageIndex', () => {
  const stanza = (name: string, version: string, arch = 'amd64') =>
    `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\nFilename: pool/${name}_${version}.deb\nSize: 10\nSHA256: ${hash('e')}\n`;

  it('skips stanzas it cannot verify and keeps field names as written', () => {
    const text = [
      stanza('a', '1'),
      'Package: nosum\nVersion: 1\nArchitecture: amd64\nFilename: pool/x.deb\nSize: 1\n',
      stanza('b', '2', 'all'),
    ].join('\n');
    const parsed = parsePackages(text, 'http://x stable/main');
    expect(parsed.skipped).toBe(1);
    expect(
      parsed.records.map((record) => `${record.name}=${record.version}/${record.architecture}`),
    ).toEqual(['a=1/amd64', 'b=2/all']);
    expect([...(parsed.records[0]?.fields.keys() ?? [])]).toEqual([
      'Package',
      'Version',
      'Architecture',
      'Filename',
      'Size',
      'SHA256',
    ]);
  });

  it('sorts versions newest first and lets the first record of a name and version win', () => {
    const first = parsePackages(
      [stanza('a', '1.0'), stanza('a', '1:0.1'), stanza('a', '1.0~rc1')].join('\n'),
      'first',
    ).records;
    const second = parsePackages(
      [stanza('a', '1.0'), stanza('a', '2.0')].join('\n'),
      'second',
    ).records;
    const index = createPackageIndex([...first, ...second]);
    expect(index.versions('a').map((record) => `${record.version}@${record.origin}`)).toEqual([
      '1:0.1@first',
      '2.0@second',
      '1.0@first',
      '1.0~rc1@first',
    ]);
    expect(index.find('a', '1.0')?.origin).toBe('first');
    expect(index.find('a', '1.0', 'arm64')).toBeUndefined();
    expect(index.versions('missing')).toEqual([]);
  });
});

describe('dearmor', () => {
  it('decodes the base64 body and ignores headers and the checksum', () => {
    const data = Buffer.from('binary key packets \u0000\u00ff', 'latin1');
    const text = `-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: test\n\n${data.toString('base64')}\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----\n`;
    expect(dearmor(text).equals(data)).toBe(true);
  });
});
