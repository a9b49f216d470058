import { describe, expect, it } from 'vitest';
import { getField } from '../../../src/packages/debian/control.js';
import { parsePackageTable, tableRecords } from '../../../src/packages/apt/package-table.js';
import { parsePackages } from '../../../src/packages/apt/packages.js';
import { decodeParsedIndex, encodeParsedIndex } from '../../../src/packages/apt/parsed-cache.js';

const sha = (c: string) => c.repeat(64);

// CRLF line ends, blank lines holding spaces, a multi-line description, a non-ASCII maintainer,
// a field spelt in lower case, and a stanza without SHA256 (skipped).
const packagesText = [
  'Package: hello',
  'Version: 1:2.0~rc1-1',
  'Architecture: amd64',
  'Maintainer: Jörg Müller <jm@example.org>',
  'depends: libc6 (>= 2.36)',
  'Filename: pool/main/h/hello/hello_2.0~rc1-1_amd64.deb',
  'Size: 1234',
  `SHA256: ${sha('a')}`,
  'Description: greets',
  ' A longer text.',
  ' .',
  ' With a paragraph.',
  '   \t',
  'Package: broken',
  'Version: 1',
  'Architecture: amd64',
  'Filename: pool/b.deb',
  'Size: 1',
  '',
  'Package: data\r',
  'Version: 3\r',
  'Architecture: all\r',
  'Filename: pool/d.deb\r',
  'Size: 99\r',
  `SHA256: ${sha('B')}\r`,
  'Multi-Arch: foreign\r',
  '\r',
  'Package: other-arch',
  'Version: 1',
  'Architecture: arm64',
  'Filename: pool/o.deb',
  'Size: 5',
  `SHA256: ${sha('c')}`,
  '',
].join('\n');

const keep = (architecture: string) => architecture === 'amd64' || architecture === 'all';

function plain(records: ReturnType<typeof tableRecords>) {
  return records.map((record) => ({ ...record, fields: new Map(record.fields) }));
}

describe('package table', () => {
  it('gives the same records as the plain parser, fields included', () => {
    const data = Buffer.from(packagesText, 'utf8');
    const table = parsePackageTable(data, 'Packages');
    expect(table.skipped).toBe(1);
    const lazy = tableRecords(table, 'origin', keep);
    const eager = parsePackages(packagesText, 'origin').records.filter((r) => keep(r.architecture));
    expect(plain(lazy)).toEqual(plain(eager));
    expect(lazy.map((record) => record.name)).toEqual(['hello', 'data']);
    expect(lazy[0]?.fields.get('Maintainer')).toBe('Jörg Müller <jm@example.org>');
    expect(lazy[0]?.fields.get('Description')).toBe('greets\nA longer text.\n\nWith a paragraph.');
    expect(lazy[1]?.sha256).toBe(sha('b'));
  });

  it('answers case-insensitive lookups, and misses without parsing', () => {
    const table = parsePackageTable(Buffer.from(packagesText, 'utf8'), 'Packages');
    const [hello, data] = tableRecords(table, 'origin', keep);
    expect(getField(hello!.fields, 'Depends')).toBe('libc6 (>= 2.36)');
    expect(getField(hello!.fields, 'Pre-Depends')).toBeUndefined();
    expect(getField(data!.fields, 'multi-arch')).toBe('foreign');
  });

  it('names the file and line of bad syntax', () => {
    const data = Buffer.from('Package: a\nVersion 1\n', 'utf8');
    expect(() => parsePackageTable(data, 'http://mirror/Packages')).toThrow(
      /http:\/\/mirror\/Packages:2: expected 'Field: value'/,
    );
  });
});

describe('parsed index cache format', () => {
  const data = Buffer.from(packagesText, 'utf8');
  const table = parsePackageTable(data, 'Packages');
  const index = sha('e');

  it('reads back what it stored', () => {
    const decoded = decodeParsedIndex(encodeParsedIndex(table, index), index);
    if (typeof decoded === 'string') throw new Error(decoded);
    expect(plain(tableRecords(decoded, 'o', keep))).toEqual(plain(tableRecords(table, 'o', keep)));
    expect(decoded.skipped).toBe(1);
  });

  it('refuses a flipped byte, a truncated file, another index and another format', () => {
    const stored = encodeParsedIndex(table, index);
    const flipped = Buffer.from(stored);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    expect(decodeParsedIndex(flipped, index)).toBe('checksum mismatch');
    expect(decodeParsedIndex(stored.subarray(0, stored.length - 7), index)).toBe(
      'truncated or overlong',
    );
    expect(decodeParsedIndex(stored, sha('f'))).toBe(`made from index ${index}`);
    const otherFormat = Buffer.from(
      stored.toString('latin1').replace(/^(\S+) 1 /, '$1 99 '),
      'latin1',
    );
    expect(decodeParsedIndex(otherFormat, index)).toBe('format 99');
    expect(decodeParsedIndex(Buffer.from('garbage'), index)).toBe('no header');
  });
});
