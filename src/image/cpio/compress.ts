import { rm } from 'node:fs/promises';
import { UcvmError } from '../../errors.js';
import { hasCommand, run } from '../../exec/index.js';

export type CompressionFormat = 'zstd' | 'xz';

/**
 * Each tool reads the archive on stdin, so no name or timestamp can reach the output (neither
 * format has a field for them anyway), and runs on one thread, so the bytes do not depend on
 * how many cores the build machine has. The kernel's xz decoder checks only CRC32 (or nothing).
 */
const commands: Record<CompressionFormat, readonly string[]> = {
  zstd: ['zstd', '-19', '--no-progress', '-q', '-T1', '-c'],
  xz: ['xz', '--check=crc32', '-9', '-T1', '-q', '-c'],
};

export const compressedSuffix: Record<CompressionFormat, string> = { zstd: '.zst', xz: '.xz' };

/** Compresses the archive `input` into `output` with the format's fixed settings. */
export async function compressArchive(
  input: string,
  output: string,
  format: CompressionFormat,
): Promise<void> {
  const command = commands[format] as readonly string[] | undefined;
  if (command === undefined) {
    throw new UcvmError('USAGE', `unknown initramfs compression ${JSON.stringify(format)}`, {
      details: 'Use zstd or xz.',
    });
  }
  const [tool = ''] = command;
  if (!(await hasCommand(tool))) {
    throw new UcvmError('BUILD_FAILED', `${tool}: command not found`, {
      details: `Install ${tool} (Debian package ${format === 'xz' ? 'xz-utils' : 'zstd'}) to compress the initramfs.`,
    });
  }
  try {
    await run('sh', ['-c', 'exec "$@" <"$UCVM_CPIO_IN" >"$UCVM_CPIO_OUT"', 'sh', ...command], {
      env: { UCVM_CPIO_IN: input, UCVM_CPIO_OUT: output },
    });
  } catch (error) {
    await rm(output, { force: true });
    throw new UcvmError('BUILD_FAILED', `${tool} could not compress ${input}`, {
      details: error instanceof UcvmError ? (error.details ?? error.message) : String(error),
      cause: error,
    });
  }
}
