import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryStorage } from '../../src/storage/directory.js';
import { startUcvm, ucvm, type CliResult } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';

function bigTree(root: string, label: string): void {
  for (let d = 0; d < 10; d++) {
    mkdirSync(path.join(root, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++)
      writeFileSync(path.join(root, `d${d}`, `f${f}`), `${label} ${d} ${f}\n`.repeat(500));
  }
}

/** Resolves when the child has written `text` to stderr; rejects if it exits first. */
function stderrSays(run: ReturnType<typeof startUcvm>, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    run.child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) resolve();
    });
    void run.done.then((result: CliResult) =>
      reject(new Error(`exited before saying ${JSON.stringify(text)}: ${result.stderr}`)),
    );
  });
}

describe('publishes to one repository while another writer holds it', () => {
  it('fails a publish with REPO_LOCKED, or queues it with --wait; queued ones never interleave', async () => {
    const base = await tmpdir();
    const storage = path.join(base, 'srv', 'lock.example.org');
    const common = ['--keys', path.join(base, 'keys'), '--spool', path.join(base, 'spool')];
    expect(ucvm(['repo', 'init', storage, ...common]).status).toBe(0);
    const trees = { a: path.join(base, 'a'), b: path.join(base, 'b') };
    bigTree(trees.a, 'A');
    bigTree(trees.b, 'B');

    // This test process is the other writer: it holds the lock until the publishes queue.
    const lock = await new DirectoryStorage(storage).lock({
      holder: 'the test (holding on purpose)',
      waitMs: 0,
    });
    let released = false;
    try {
      const refused = ucvm(['repo', 'publish', storage, trees.a, '--tag', 'a', ...common]);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('REPO_LOCKED');
      expect(refused.stderr).toContain('the test (holding on purpose)');

      const queued = (['a', 'b'] as const).map((tag) =>
        startUcvm([
          'repo',
          'publish',
          storage,
          trees[tag],
          '--tag',
          tag,
          '--wait',
          '120',
          '--json',
          ...common,
        ]),
      );
      await Promise.all(queued.map((run) => stderrSays(run, 'waiting')));
      await lock.release();
      released = true;
      const results = await Promise.all(queued.map((run) => run.done));
      for (const result of results) expect(result.status, result.stderr).toBe(0);
      const revisions = results.map(
        (result) => (JSON.parse(result.stdout) as { revision: number }).revision,
      );
      expect(revisions.sort()).toEqual([2, 3]);
    } finally {
      if (!released) await lock.release();
    }
    const cat = (tag: string): string =>
      ucvm(['repo', 'cat', `${storage}@${tag}`, '/d3/f7'], {
        env: { UCVM_KEYS_DIR: path.join(base, 'keys') },
      }).stdout;
    expect(cat('a')).toBe('A 3 7\n'.repeat(500));
    expect(cat('b')).toBe('B 3 7\n'.repeat(500));
    expect(ucvm(['repo', 'verify', storage, ...common.slice(0, 2)]).status).toBe(0);
  }, 120_000);
});
