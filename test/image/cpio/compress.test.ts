import { copyFile, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import { run, runBinary } from '../../../src/exec/index.js';
import type { CompressionFormat } from '../../../src/image/cpio/index.js';
import { compressArchive, writeCpioFile } from '../../../src/image/cpio/index.js';
import { tmpdir } from '../../helpers/tmp.js';
import { epoch, sampleEntries, sha256 } from './fixtures.js';

async function sampleArchive(): Promise<{ dir: string; archive: string }> {
  const dir = await tmpdir();
  const archive = path.join(dir, 'initramfs.cpio');
  await writeCpioFile(await sampleEntries(dir), archive, { sourceDateEpoch: epoch });
  return { dir, archive };
}

describe.each<CompressionFormat>(['zstd', 'xz'])('compressArchive with %s', (format) => {
  it('decompresses to the same bytes, and compresses the same way every time', async () => {
    const { dir, archive } = await sampleArchive();
    const first = path.join(dir, 'first');
    await compressArchive(archive, first, format);
    const decompressed = await runBinary(format, ['-d', '-c', first]);
    expect(sha256(decompressed)).toBe(sha256(await readFile(archive)));

    // Another name and mtime of the input must not show in the output.
    const renamed = path.join(dir, 'other-name.cpio');
    await copyFile(archive, renamed);
    await utimes(renamed, 1_000, 1_000);
    const second = path.join(dir, 'second');
    await compressArchive(renamed, second, format);
    expect(sha256(await readFile(second))).toBe(sha256(await readFile(first)));
  });
});

describe('compressArchive', () => {
  it('gives xz streams with CRC32, the only check the kernel verifies', async () => {
    const { dir, archive } = await sampleArchive();
    const output = path.join(dir, 'initramfs.cpio.xz');
    await compressArchive(archive, output, 'xz');
    const { stdout } = await run('xz', ['-lvv', output]);
    expect(stdout).toMatch(/^\s*Check:\s+CRC32$/m);
  });

  it('refuses an unknown format as a usage error, and a missing input with the tool named', async () => {
    const dir = await tmpdir();
    const unknown: unknown = await compressArchive(
      'in',
      path.join(dir, 'out'),
      'gzip' as CompressionFormat,
    ).catch((caught: unknown) => caught);
    expect(isUcvmError(unknown, 'USAGE'), String(unknown)).toBe(true);
    const missing: unknown = await compressArchive(
      path.join(dir, 'absent'),
      path.join(dir, 'out'),
      'zstd',
    ).catch((caught: unknown) => caught);
    expect(isUcvmError(missing, 'BUILD_FAILED'), String(missing)).toBe(true);
    expect((missing as Error).message).toContain('zstd could not compress');
  });
});
