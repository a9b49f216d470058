import { access, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import type { CpioEntry } from '../../../src/image/cpio/index.js';
import { buildCpio, planArchive, writeCpioFile } from '../../../src/image/cpio/index.js';
import { tmpdir } from '../../helpers/tmp.js';
import { epoch } from './fixtures.js';

const bytes = Buffer.from('x');

async function refusal(entries: CpioEntry[], sourceDateEpoch = epoch): Promise<unknown> {
  return buildCpio(entries, { sourceDateEpoch }).then(
    () => undefined,
    (error: unknown) => error,
  );
}

async function expectRefused(entries: CpioEntry[], named: string, problem: RegExp): Promise<void> {
  const error = await refusal(entries);
  expect(isUcvmError(error, 'BUILD_FAILED'), String(error)).toBe(true);
  const message = (error as Error).message;
  expect(message).toContain(JSON.stringify(named));
  expect(message).toMatch(problem);
}

describe('refused entries', () => {
  it('a name with "..", an empty component or a NUL byte', async () => {
    await expectRefused(
      [{ type: 'file', path: 'usr/../etc/x', content: bytes }],
      'usr/../etc/x',
      /"\.\."/,
    );
    await expectRefused([{ type: 'file', path: '../x', content: bytes }], '../x', /"\.\."/);
    await expectRefused([{ type: 'file', path: 'etc//x', content: bytes }], 'etc//x', /empty/);
    await expectRefused([{ type: 'file', path: 'etc/x\0y', content: bytes }], 'etc/x\0y', /NUL/);
    await expectRefused([{ type: 'symlink', path: 'l', target: 'a\0b' }], 'l', /NUL/);
  });

  it('the same path twice, also when spelt differently', async () => {
    await expectRefused(
      [
        { type: 'file', path: '/etc/hostname', content: bytes },
        { type: 'directory', path: 'etc/hostname/' },
      ],
      'etc/hostname/',
      /already has an entry/,
    );
  });

  it('an entry under a file, a symlink or a device', async () => {
    for (const parent of [
      { type: 'file', path: 'etc/passwd', content: bytes },
      { type: 'symlink', path: 'etc/passwd', target: '/usr/etc/passwd' },
      { type: 'char-device', path: 'etc/passwd', major: 1, minor: 3 },
    ] satisfies CpioEntry[]) {
      await expectRefused(
        [parent, { type: 'file', path: 'etc/passwd/x/y', content: bytes }],
        'etc/passwd/x/y',
        new RegExp(`parent "etc/passwd" is a ${parent.type}`),
      );
    }
    await expectRefused(
      [{ type: 'file', path: '.', content: bytes }],
      '.',
      /root must be a directory/,
    );
  });

  it('a hard link to a name that is missing or not a regular file', async () => {
    await expectRefused(
      [{ type: 'hardlink', path: 'bin/sh', target: 'bin/busybox' }],
      'bin/sh',
      /"bin\/busybox" is not a regular file/,
    );
    await expectRefused(
      [
        { type: 'directory', path: 'bin' },
        { type: 'hardlink', path: 'sbin', target: 'bin' },
      ],
      'sbin',
      /not a regular file/,
    );
  });

  it('a file of 4 GiB or more (newc sizes have 8 hex digits)', async () => {
    const dir = await tmpdir();
    const huge = path.join(dir, 'huge');
    await writeFile(huge, '');
    await truncate(huge, 2 ** 32); // sparse: no disk space taken
    await expectRefused([{ type: 'file', path: 'big', source: huge }], 'big', /over the 4 GiB/);
    const entries: CpioEntry[] = [{ type: 'file', path: 'big', source: huge }];
    const fits = planArchive(entries, { sourceDateEpoch: epoch }, new Map([[huge, 2 ** 32 - 1]]));
    expect(fits[1]?.fields.fileSize).toBe(2 ** 32 - 1);
  });

  it('a missing host file, modes, owners and devices out of range', async () => {
    await expectRefused(
      [{ type: 'file', path: 'x', source: '/nonexistent/x' }],
      'x',
      /cannot read/,
    );
    await expectRefused([{ type: 'file', path: 'x', source: '/tmp' }], 'x', /not a regular file/);
    await expectRefused([{ type: 'file', path: 'x', mode: 0o10000, content: bytes }], 'x', /mode/);
    await expectRefused([{ type: 'file', path: 'x', uid: -1, content: bytes }], 'x', /uid -1/);
    await expectRefused([{ type: 'char-device', path: 'd', major: 4096, minor: 0 }], 'd', /4096:0/);
  });

  it('a SOURCE_DATE_EPOCH that is not whole seconds in 32 bits, as a usage error', async () => {
    for (const value of [-1, 1.5, 2 ** 32, Number.NaN]) {
      const error = await refusal([], value);
      expect(isUcvmError(error, 'USAGE'), `${value}: ${String(error)}`).toBe(true);
    }
  });

  it('leaves no file behind when it refuses', async () => {
    const file = path.join(await tmpdir(), 'initramfs.cpio');
    const error: unknown = await writeCpioFile(
      [{ type: 'file', path: 'a/../b', content: bytes }],
      file,
      { sourceDateEpoch: epoch },
    ).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'BUILD_FAILED')).toBe(true);
    await expect(access(file)).rejects.toThrow();
  });
});
