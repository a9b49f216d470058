import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startUcvm, ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';

function bigTree(root: string, label: string): void {
  for (let d = 0; d < 10; d++) {
    mkdirSync(path.join(root, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++)
      writeFileSync(path.join(root, `d${d}`, `f${f}`), `${label} ${d} ${f}\n`.repeat(500));
  }
}

describe('two publishes to one repository at once', () => {
  it('fails the second with REPO_LOCKED, or queues it with --wait; never interleaves', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'lock.example.org');
    const common = ['--keys', path.join(base, 'keys'), '--spool', path.join(base, 'spool')];
    expect(ucvm(['repo', 'init', storage, ...common]).status).toBe(0);
    const treeA = path.join(base, 'a');
    const treeB = path.join(base, 'b');
    bigTree(treeA, 'A');
    bigTree(treeB, 'B');

    const first = startUcvm(['repo', 'publish', storage, treeA, '--tag', 'a', '--json', ...common]);
    // Wait until the first holds the lock (its holder file names it).
    const holder = path.join(storage, 'data', 'txn', 'ucvm.lock.holder');
    for (let i = 0; i < 200; i++) {
      try {
        const { readFileSync } = await import('node:fs');
        if (readFileSync(holder, 'utf8').includes(`pid ${first.child.pid}`)) break;
      } catch {
        // not yet
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const refused = ucvm(['repo', 'publish', storage, treeB, '--tag', 'b', ...common]);
    const queued = startUcvm([
      'repo',
      'publish',
      storage,
      treeB,
      '--tag',
      'b',
      '--wait',
      '120',
      '--json',
      ...common,
    ]);
    const a = await first.done;
    const b = await queued.done;

    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('REPO_LOCKED');
    expect(refused.stderr).toContain(`pid ${first.child.pid}`);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ revision: 2, tag: 'a' });
    expect(JSON.parse(b.stdout)).toMatchObject({ revision: 3, tag: 'b' });
    const cat = (tag: string): string =>
      ucvm(['repo', 'cat', `${storage}@${tag}`, '/d3/f7']).stdout;
    expect(cat('a')).toBe('A 3 7\n'.repeat(500));
    expect(cat('b')).toBe('B 3 7\n'.repeat(500));
    expect(ucvm(['repo', 'verify', storage, ...common.slice(0, 2)]).status).toBe(0);
  }, 120_000);
});
