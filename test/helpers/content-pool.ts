import path from 'node:path';
import { ContentWorkerPool } from '../../src/publisher/embedded/content-pool.js';
import { tmpdir } from './tmp.js';

/**
 * A content worker pool that hashes and compresses but writes nothing (dry run, no target),
 * with its own temp dir; `script` runs instead of the content worker when given.
 */
export async function dryPool(
  size: number,
  script?: URL,
): Promise<{ pool: ContentWorkerPool; dir: string }> {
  const dir = await tmpdir();
  const pool = new ContentWorkerPool(
    {
      target: undefined,
      algorithm: 'sha1',
      compression: 'zlib',
      chunking: undefined,
      dryRun: true,
      statePath: path.join(dir, 'none.db'),
    },
    size,
    ...(script === undefined ? [] : [script]),
  );
  return { pool, dir };
}
