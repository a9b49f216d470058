import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import {
  ControlParagraph,
  formatControl,
  getField,
  parseControl,
} from '../../../src/packages/debian/control.js';

const packages = `Package: bash
Version: 5.2.15-2+b2
Architecture: amd64
Essential: yes
Pre-Depends: libc6 (>= 2.36),
 libtinfo6 (>= 6)
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 .
   indented verbatim line
Multi-Arch: foreign

Package: dash
Version: 0.5.12-2
`;

function parseError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(isUcvmError(error, 'PACKAGE_VERIFY')).toBe(true);
    return error as Error;
  }
  throw new Error('expected a PACKAGE_VERIFY error');
}

describe('parseControl', () => {
  it('parses paragraphs, continuation lines and " ." as an empty line', () => {
    const [bash, dash, ...rest] = parseControl(packages);
    expect(rest).toEqual([]);
    expect(bash?.get('Package')).toBe('bash');
    expect(bash?.get('pre-depends')).toBe('libc6 (>= 2.36),\nlibtinfo6 (>= 6)');
    expect(bash?.get('Description')).toBe(
      'GNU Bourne Again SHell\nBash is an sh-compatible command language interpreter.\n\n  indented verbatim line',
    );
    expect(bash?.get('MULTI-ARCH')).toBe('foreign');
    expect([...(bash?.fields.keys() ?? [])]).toEqual([
      'Package',
      'Version',
      'Architecture',
      'Essential',
      'Pre-Depends',
      'Description',
      'Multi-Arch',
    ]);
    expect(bash?.line).toBe(1);
    expect(bash?.lineOf('description')).toBe(7);
    expect(dash?.get('Version')).toBe('0.5.12-2');
    expect(dash?.line).toBe(13);
  });

  it.each([
    ['several blank and whitespace-only lines', 'A: 1\n\n  \n\t\nB: 2\n', 2],
    ['leading blank lines and no final newline', '\n\nA: 1', 1],
    ['CRLF line ends', 'A: 1\r\nB: 2\r\n\r\nC: 3\r\n', 2],
    ['empty text', '', 0],
  ])('%s', (_, text, count) => {
    expect(parseControl(text)).toHaveLength(count);
  });

  it('trims values and accepts no space after the colon', () => {
    const [paragraph] = parseControl('Version:1.0   \nSection:   admin\n');
    expect(paragraph?.get('version')).toBe('1.0');
    expect(paragraph?.get('section')).toBe('admin');
  });

  it('keeps an empty first line of a multi-line field (Release checksums)', () => {
    const [release] = parseControl(
      'Suite: bookworm\nSHA256:\n abc 12 main/Packages\n def 34 main/Release\n',
    );
    expect(release?.get('sha256')).toBe('\nabc 12 main/Packages\ndef 34 main/Release');
  });

  it('skips # comments only when asked', () => {
    const text = '# a comment\nSource: foo\n# inside\nBuild-Depends: a,\n# between\n b\n';
    const [source] = parseControl(text, { comments: true });
    expect(source?.get('Build-Depends')).toBe('a,\nb');
    expect(source?.line).toBe(2);
    expect(parseError(() => parseControl(text)).message).toBe(
      "control data:1: comment lines ('#') are not allowed in this file",
    );
  });

  it.each([
    ['a continuation line first', ' oops\n', 'control data:1: continuation line outside a field'],
    ['a line without colon', 'A: 1\nnot a field\n', ":2: expected 'Field: value'"],
    ['a name starting with -', 'A: 1\n-B: 2\n', ":2: invalid field name '-B'"],
    ['an empty name', ': 2\n', ":1: invalid field name ''"],
    ['a duplicate field in any case', 'A: 1\nB: 2\na: 3\n', ":3: duplicate field 'a'"],
  ])('rejects %s', (_, text, message) => {
    expect(parseError(() => parseControl(text)).message).toContain(message);
  });

  it('names the file and line in the error location', () => {
    const error = parseError(() => parseControl('A: 1\n\n x\n', { file: 'Packages' }));
    expect(error.message).toBe('Packages:3: continuation line outside a field');
    expect((error as unknown as { where: unknown }).where).toEqual({ file: 'Packages', line: 3 });
  });
});

describe('ControlParagraph', () => {
  it('looks up, sets and deletes case-insensitively, keeping the written name', () => {
    const paragraph = new ControlParagraph([['Package', 'x']]);
    paragraph.set('PACKAGE', 'y').set('Version', '1');
    expect([...paragraph]).toEqual([
      ['Package', 'y'],
      ['Version', '1'],
    ]);
    expect(paragraph.has('version')).toBe(true);
    expect(paragraph.delete('VERSION')).toBe(true);
    expect(paragraph.delete('Version')).toBe(false);
    expect(paragraph.size).toBe(1);
    expect(paragraph.get('version')).toBeUndefined();
  });
});

describe('formatControl', () => {
  it('writes multi-line values and round-trips through parseControl', () => {
    const paragraph = new ControlParagraph([
      ['Package', 'ucvm-base'],
      ['Version', '1.0'],
      ['Depends', 'bash (= 5.2.15-2+b2), dash (= 0.5.12-2)'],
      ['Description', 'the base set\nLong text.\n\n  verbatim\n   \n'],
      ['Checksums', '\nabc 1 x'],
    ]);
    const text = formatControl(paragraph);
    expect(text).toBe(
      'Package: ucvm-base\nVersion: 1.0\nDepends: bash (= 5.2.15-2+b2), dash (= 0.5.12-2)\n' +
        'Description: the base set\n Long text.\n .\n   verbatim\n .\n .\nChecksums:\n abc 1 x\n',
    );
    const [again] = parseControl(text);
    expect(again?.get('Description')).toBe('the base set\nLong text.\n\n  verbatim\n\n');
    expect(again?.get('Checksums')).toBe('\nabc 1 x');
  });

  it('separates several paragraphs by one blank line', () => {
    const text = formatControl([
      new ControlParagraph([['A', '1']]),
      new ControlParagraph([['B', '2']]),
    ]);
    expect(text).toBe('A: 1\n\nB: 2\n');
    expect(parseControl(text)).toHaveLength(2);
  });

  it.each([
    ['an empty value', [['A', '  ']]],
    ['a bad name', [['Bad Name', 'x']]],
    ['a line that is only "."', [['A', 'x\n.']]],
    ['an empty paragraph', []],
  ] as [string, [string, string][]][])('rejects %s', (_, fields) => {
    parseError(() => formatControl(new ControlParagraph(fields)));
  });
});

describe('getField', () => {
  it('finds a field in a plain map in any case', () => {
    const fields = new Map([['Multi-Arch', 'allowed']]);
    expect(getField(fields, 'Multi-Arch')).toBe('allowed');
    expect(getField(fields, 'multi-arch')).toBe('allowed');
    expect(getField(fields, 'Depends')).toBeUndefined();
  });
});
