import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readXattrsOf } from '../../src/publisher/embedded/xattrs.js';
import { tmpdir } from '../helpers/tmp.js';

describe('reading the extended attributes of given entries', () => {
  it('reads every entry given, over as many getfattr runs as their paths need', async () => {
    const dir = await tmpdir();
    // Long names, so that the paths pass the bytes one getfattr run is given several times.
    const sources = Array.from({ length: 1500 }, (_, i) =>
      path.join(dir, `${String(i).padStart(4, '0')}-${'n'.repeat(120)}`),
    );
    for (const source of sources) writeFileSync(source, '');
    // Every entry has one, so that an entry a run leaves out is missed.
    execFileSync('setfattr', ['-n', 'user.mark', '-v', 'all', ...sources.slice(1)]);
    execFileSync('setfattr', ['-n', 'user.mark', '-v', 'first', sources[0]!]);

    const found = await readXattrsOf(sources);
    expect([...found.keys()].sort()).toEqual([...sources].sort());
    expect(found.get(sources[0]!)?.get('user.mark')?.toString()).toBe('first');
    expect(found.get(sources[1499]!)?.get('user.mark')?.toString()).toBe('all');
    expect(await readXattrsOf([])).toEqual(new Map());
  });
});
