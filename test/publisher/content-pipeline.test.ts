import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkLengths, type ChunkingOptions } from '../../src/cvmfs/chunking.js';
import { ContentPipeline, PipelineError } from '../../src/publisher/embedded/content-pipeline.js';
import { tmpdir } from '../helpers/tmp.js';

const chunking: ChunkingOptions = { minSize: 4096, averageSize: 8192, maxSize: 16384 };

function pipeline(dir: string): ContentPipeline {
  return new ContentPipeline({
    target: undefined,
    algorithm: 'sha1',
    compression: 'zlib',
    chunking,
    dryRun: false,
    statePath: path.join(dir, 'none.db'),
  });
}

describe('the content pipeline reads exactly what the scan saw', () => {
  it('cuts a large file where the streaming chunker cuts it, and stores every chunk', async () => {
    const dir = await tmpdir();
    const file = path.join(dir, 'large');
    const data = randomBytes(100_000);
    writeFileSync(file, data);
    const outcome = pipeline(dir).storeFile(file, data.length);
    expect(outcome.content.chunks?.map((chunk) => chunk.size)).toEqual(
      chunkLengths(data, chunking),
    );
    expect(outcome.objects).toHaveLength(outcome.content.chunks!.length);
  });

  it('refuses a file whose size is not the scanned one, small or chunked', async () => {
    const dir = await tmpdir();
    for (const length of [100, 50_000]) {
      const file = path.join(dir, `file-${length}`);
      writeFileSync(file, randomBytes(length));
      for (const scanned of [length - 1, length + 1]) {
        let error: unknown;
        try {
          pipeline(dir).storeFile(file, scanned);
        } catch (caught) {
          error = caught;
        }
        expect(error, `${length} bytes scanned as ${scanned}`).toBeInstanceOf(PipelineError);
        expect((error as PipelineError).phase).toBe('read');
        expect((error as PipelineError).message).toContain('size changed');
      }
    }
  });
});
