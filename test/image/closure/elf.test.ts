import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import { elfLinkage } from '../../../src/image/closure/elf.js';

/** What binutils' readelf (an independent reader) says of a file's linkage. */
function readelf(file: string) {
  const out = execFileSync('readelf', ['-W', '-d', '-l', file], { encoding: 'utf8' });
  const strings = (tag: string) =>
    [...out.matchAll(new RegExp(`\\(${tag}\\)\\s+[^\\[]*\\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]!);
  return {
    interpreter: /\[Requesting program interpreter: ([^\]]+)\]/.exec(out)?.[1],
    needed: strings('NEEDED'),
    runpath: strings('RUNPATH').flatMap((value) => value.split(':')),
    rpath: strings('RPATH').flatMap((value) => value.split(':')),
  };
}

const hostFiles = [
  '/usr/bin/ls',
  '/usr/bin/gpgv',
  '/usr/bin/sqlite3',
  '/usr/lib/x86_64-linux-gnu/libselinux.so.1',
  '/bin/busybox',
  process.execPath,
];

describe('elfLinkage', () => {
  it.each(hostFiles)('reads %s as readelf does', (file) => {
    expect(elfLinkage(readFileSync(file), file)).toEqual(readelf(file));
  });

  it('refuses what is not a 64-bit little-endian x86-64 ELF file, naming it', () => {
    const good = readFileSync('/usr/bin/ls');
    const cases: Array<[string, Buffer]> = [
      ['no ELF magic', Buffer.from('#!/bin/sh\n')],
      ['truncated header', good.subarray(0, 40)],
      [
        'not a 64-bit ELF file',
        Buffer.concat([good.subarray(0, 4), Buffer.from([1]), good.subarray(5)]),
      ],
      ['program headers out of the file', good.subarray(0, 100)],
    ];
    for (const [problem, bytes] of cases) {
      let error: unknown;
      try {
        elfLinkage(bytes, '/bin/x');
      } catch (caught) {
        error = caught;
      }
      expect(isUcvmError(error, 'BUILD_FAILED'), problem).toBe(true);
      expect((error as Error).message).toBe(`/bin/x is not a usable ELF file: ${problem}`);
    }
  });
});
