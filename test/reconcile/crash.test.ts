import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUcvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';
import {
  channels,
  makeProject,
  reconcileArgs,
  startArchive,
  storageOf,
  tagRoot,
  ucvmAsync,
  verifyProblems,
  type Archive,
} from './fixtures.js';

let archive: Archive;

beforeAll(async () => {
  archive = await startArchive();
}, 60_000);

afterAll(() => archive.close());

const gates = 'gates:\n  testing:\n    checks: [verify]\n';

/** Every repository that exists verifies (signatures, catalogs, every object). */
async function everyRepositoryVerifies(root: string, keys: string): Promise<void> {
  for (const channel of channels) {
    if (!existsSync(path.join(storageOf(root, channel), '.cvmfspublished'))) continue;
    expect(await verifyProblems(root, keys, channel), channel).toEqual([]);
  }
}

async function expectReconciled(root: string, keys: string): Promise<void> {
  const roots = await Promise.all(channels.map((channel) => tagRoot(root, keys, channel, 'HEAD')));
  expect(roots[0]).toBeDefined();
  expect(new Set(roots).size).toBe(1);
  for (const channel of channels)
    expect(await tagRoot(root, keys, channel, 'cernvm-system-1.0.0')).toBe(roots[0]);
}

const versions = {
  development: ['1.0.0', '1.0-1'],
  testing: ['1.0.0', '1.0-1'],
  production: ['1.0.0', '1.0-1'],
} as Record<(typeof channels)[number], [string, string]>;

describe('reconcile killed with SIGKILL at any moment', () => {
  it('leaves every repository verifiable, and the next run finishes the job', async () => {
    const base = await tmpdir();
    const { root, keys } = makeProject(base, versions, { gates });
    // Kills that land ever later: in the build, the publish, the check, each promotion.
    const delays = [150, 400, 900, 1500, 2200, 3000, 3900, 4900, 6000, 7500];
    let finished = false;
    let killed = 0;
    for (const delay of delays) {
      const run = startUcvm(reconcileArgs(root, archive, base, '--init'));
      const timer = setTimeout(() => run.child.kill('SIGKILL'), delay);
      const result = await run.done;
      clearTimeout(timer);
      await everyRepositoryVerifies(root, keys);
      if (result.status === 0) {
        finished = true;
        break;
      }
      expect(result.status, result.stderr).toBeNull();
      killed++;
    }
    // Each run went on from where the one before was killed: several were cut short.
    expect(killed).toBeGreaterThanOrEqual(4);
    const last = await ucvmAsync(reconcileArgs(root, archive, base, '--init'));
    expect(last.status, last.stderr).toBe(0);
    await expectReconciled(root, keys);
    await everyRepositoryVerifies(root, keys);
    if (finished) {
      // A run finished on its own: the last one found nothing to do.
      const report = JSON.parse(last.stdout) as { outcomes: Array<{ status: string }> };
      expect(report.outcomes.map((outcome) => outcome.status)).toEqual([
        'unchanged',
        'unchanged',
        'unchanged',
      ]);
    }
  }, 600_000);
});

describe('two reconciles at once', () => {
  it('queue on each repository lock (--wait) and end in the same state as one', async () => {
    const base = await tmpdir();
    const { root, keys } = makeProject(base, versions, { gates });
    const [a, b] = await Promise.all([
      ucvmAsync(reconcileArgs(root, archive, base, '--init', '--wait', '300')),
      ucvmAsync(reconcileArgs(root, archive, base, '--init', '--wait', '300')),
    ]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    await expectReconciled(root, keys);
    await everyRepositoryVerifies(root, keys);
    // Each action was carried out by one of them; the other found it done.
    const statuses = [a, b].map((result) =>
      (JSON.parse(result.stdout) as { outcomes: Array<{ status: string }> }).outcomes.map(
        (outcome) => outcome.status,
      ),
    );
    for (let channel = 0; channel < 3; channel++)
      expect(statuses.filter((run) => run[channel] === 'done')).toHaveLength(1);
  }, 600_000);
});
