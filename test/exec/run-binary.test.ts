import { describe, expect, it } from 'vitest';
import { run, runBinary } from '../../src/exec/index.js';

describe('runBinary', () => {
  it('returns output bytes exactly, a final newline byte included', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x0a, 0x41, 0x0d, 0x0a]);
    expect(await runBinary('cat', [], { input: bytes })).toEqual(bytes);
  });

  it('is as exact as run, which keeps the final newline of text', async () => {
    expect((await run('printf', ['a\\n'])).stdout).toBe('a\n');
  });
});
