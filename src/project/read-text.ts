import { open } from 'node:fs/promises';
import { UcvmError, type ErrorCode } from '../errors.js';
import { MAX_YAML_BYTES } from '../manifest/yaml-source.js';

/**
 * Reads a project file (manifest, pipeline) as UTF-8, refusing one larger than the limit
 * before reading it whole: the size is checked on the opened file, and never more than the
 * limit plus one byte is read, so a file that grows or a FIFO cannot get past it.
 */
export async function readProjectText(
  path: string,
  options: { limit?: number; code?: ErrorCode } = {},
): Promise<string> {
  const limit = options.limit ?? MAX_YAML_BYTES;
  const code = options.code ?? 'LIMIT_EXCEEDED';
  const handle = await open(path, 'r');
  try {
    const stats = await handle.stat();
    if (stats.isFile() && stats.size > limit) throw tooLarge(path, stats.size, limit, code);
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > limit) throw tooLarge(path, length, limit, code);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}

function tooLarge(path: string, size: number, limit: number, code: ErrorCode): UcvmError {
  return new UcvmError(code, `the file is ${size} bytes or more; at most ${limit} are read`, {
    details: 'A manifest or pipeline file this large is not one: check what was committed.',
    where: { file: path, line: 1, column: 1 },
  });
}
