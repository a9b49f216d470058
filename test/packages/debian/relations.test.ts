import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import {
  archMatches,
  formatRelations,
  parseProvides,
  parseRelations,
  relationsForArchitecture,
} from '../../../src/packages/debian/relations.js';
import type { RelationGroup } from '../../../src/packages/debian/relations.js';

describe('parseRelations', () => {
  it.each<[string, RelationGroup[]]>([
    ['', []],
    ['libc6', [[{ name: 'libc6' }]]],
    ['libc6 (>= 2.36)', [[{ name: 'libc6', constraint: { op: '>=', version: '2.36' } }]]],
    ['libc6(>=2.36)', [[{ name: 'libc6', constraint: { op: '>=', version: '2.36' } }]]],
    ['libc6 (  >=   2.36  )', [[{ name: 'libc6', constraint: { op: '>=', version: '2.36' } }]]],
    [
      'a (<< 1:2-3), b (= 1), c (>> 0), d (<= 4)',
      [
        [{ name: 'a', constraint: { op: '<<', version: '1:2-3' } }],
        [{ name: 'b', constraint: { op: '=', version: '1' } }],
        [{ name: 'c', constraint: { op: '>>', version: '0' } }],
        [{ name: 'd', constraint: { op: '<=', version: '4' } }],
      ],
    ],
    [
      'a (< 1), b (> 2)',
      [
        [{ name: 'a', constraint: { op: '<=', version: '1' } }],
        [{ name: 'b', constraint: { op: '>=', version: '2' } }],
      ],
    ],
    [
      'default-mta|mail-transport-agent',
      [[{ name: 'default-mta' }, { name: 'mail-transport-agent' }]],
    ],
    [
      '  a ,\n  b |\n\tc (>= 1) ,  ',
      [[{ name: 'a' }], [{ name: 'b' }, { name: 'c', constraint: { op: '>=', version: '1' } }]],
    ],
    [
      'python3:any (>= 3.11~), perl:native, libfoo1:i386',
      [
        [{ name: 'python3', archQualifier: 'any', constraint: { op: '>=', version: '3.11~' } }],
        [{ name: 'perl', archQualifier: 'native' }],
        [{ name: 'libfoo1', archQualifier: 'i386' }],
      ],
    ],
    [
      'libfoo [amd64 arm64]',
      [
        [
          {
            name: 'libfoo',
            architectures: [
              { arch: 'amd64', negated: false },
              { arch: 'arm64', negated: false },
            ],
          },
        ],
      ],
    ],
    [
      'libfoo (>= 1)[ !i386  !hurd-any ]',
      [
        [
          {
            name: 'libfoo',
            constraint: { op: '>=', version: '1' },
            architectures: [
              { arch: 'i386', negated: true },
              { arch: 'hurd-any', negated: true },
            ],
          },
        ],
      ],
    ],
    [
      'check <!nocheck> <stage1 cross>',
      [
        [
          {
            name: 'check',
            profiles: [
              [{ profile: 'nocheck', negated: true }],
              [
                { profile: 'stage1', negated: false },
                { profile: 'cross', negated: false },
              ],
            ],
          },
        ],
      ],
    ],
    [
      'g++-12 (>= 12) [linux-any] <!nocheck>',
      [
        [
          {
            name: 'g++-12',
            constraint: { op: '>=', version: '12' },
            architectures: [{ arch: 'linux-any', negated: false }],
            profiles: [[{ profile: 'nocheck', negated: true }]],
          },
        ],
      ],
    ],
  ])('%j', (text, expected) => {
    expect(parseRelations(text)).toEqual(expected);
  });

  it.each([
    ['a | | b', 'empty alternative'],
    ['a (>= )', 'not of the form'],
    ['a (~ 1)', 'not of the form'],
    ['a (>= 1.0 beta)', 'not of the form'],
    ['a (>= x1)', 'does not start with a digit'],
    ['a [amd64 !i386]', 'mixes negated'],
    ['a []', 'empty architecture list'],
    ['a <>', 'empty build profile list'],
    ['a b', 'not of the form'],
    ['-a', 'not of the form'],
    ['a :any', 'not of the form'],
  ])('rejects %j', (text, reason) => {
    try {
      parseRelations(text, 'Depends');
      expect.unreachable();
    } catch (error) {
      expect(isUcvmError(error, 'PACKAGE_VERIFY')).toBe(true);
      expect((error as Error).message).toMatch(/^invalid Depends relation '/);
      expect((error as Error).message).toContain(reason);
    }
  });
});

describe('archMatches', () => {
  it.each([
    ['amd64', 'amd64', true],
    ['amd64', 'any', true],
    ['amd64', 'i386', false],
    ['amd64', 'linux-any', true],
    ['amd64', 'any-amd64', true],
    ['amd64', 'any-i386', false],
    ['hurd-i386', 'any-i386', true],
    ['hurd-i386', 'linux-any', false],
    ['hurd-i386', 'hurd-any', true],
    ['armhf', 'any-arm', true],
    ['arm64', 'any-arm', false],
    ['musl-linux-amd64', 'linux-any', true],
    ['kfreebsd-amd64', 'any-amd64', true],
  ])('%s matches %s: %s', (arch, pattern, expected) => {
    expect(archMatches(arch, pattern)).toBe(expected);
  });
});

describe('relationsForArchitecture', () => {
  const groups = parseRelations(
    'a [amd64], b [!amd64], c [i386] | d <!nocheck>, e [i386] | f [arm64], g [linux-any] | h [!linux-any]',
  );
  it('keeps what applies and drops restrictions', () => {
    expect(formatRelations(relationsForArchitecture(groups, 'amd64'))).toBe('a, d, g');
    expect(formatRelations(relationsForArchitecture(groups, 'i386'))).toBe('b, c | d, e, g');
    expect(formatRelations(relationsForArchitecture(groups, 'hurd-i386'))).toBe('b, d, h');
  });
  it('formats restrictions when kept', () => {
    expect(formatRelations(groups)).toBe(
      'a [amd64], b [!amd64], c [i386] | d <!nocheck>, e [i386] | f [arm64], g [linux-any] | h [!linux-any]',
    );
  });
});

describe('parseProvides', () => {
  it('parses plain and versioned provides', () => {
    expect(parseProvides('awk, libfoo-abi-2 (= 2.1-1),\n mail-transport-agent')).toEqual([
      { name: 'awk' },
      { name: 'libfoo-abi-2', version: '2.1-1' },
      { name: 'mail-transport-agent' },
    ]);
  });
  it('drops entries for other architectures when given one', () => {
    expect(parseProvides('a [amd64], b [i386]', 'amd64')).toEqual([{ name: 'a' }]);
  });
  it.each([
    ['a | b', 'alternatives are not allowed'],
    ['a (>= 1)', 'only (= version) is allowed'],
  ])('rejects %j', (text, reason) => {
    expect(() => parseProvides(text)).toThrow(reason);
  });
});
