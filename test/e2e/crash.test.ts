import { createPublicKey } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Repository } from '../../src/reader/repository.js';
import { directorySource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { serveInChild, startUcvm, ucvm } from '../helpers/cli.js';
import { findCvmfsClient, mountRepository } from '../helpers/cvmfs-client.js';
import { independentProblems } from '../helpers/independent.js';
import { tmpdir } from '../helpers/tmp.js';

/** A deterministic pseudo-random generator (mulberry32), so a failing run can be repeated. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function writeTree(root: string, generation: number): void {
  for (let d = 0; d < 20; d++) {
    mkdirSync(path.join(root, `dir${d}`), { recursive: true });
    if (d % 5 === 0) writeFileSync(path.join(root, `dir${d}`, '.cvmfscatalog'), '');
    for (let f = 0; f < 50; f++) {
      const body = `generation ${generation} dir ${d} file ${f}\n`.repeat(
        200 + ((d * 50 + f) % 37) * 20,
      );
      writeFileSync(path.join(root, `dir${d}`, `f${f}`), body);
    }
  }
}

async function verified(
  storage: string,
  keys: string,
): Promise<{ ok: boolean; problems: string[]; revision: number }> {
  const repository = await Repository.open(directorySource(storage));
  const masterKeys = [createPublicKey(readFileSync(path.join(keys, 'crash.example.org.pub')))];
  const report = await verifyRepository(repository, { masterKeys, now: new Date() });
  repository.close();
  return report;
}

/** An initialized repository `crash.example.org` and a tree of generation 0 beside it. */
async function crashRepo() {
  const base = await tmpdir();
  const storage = path.join(base, 'srv', 'crash.example.org');
  const keys = path.join(base, 'keys');
  const tree = path.join(base, 'tree');
  const common = ['--keys', keys, '--spool', path.join(base, 'spool')];
  expect(ucvm(['repo', 'init', storage, ...common]).status).toBe(0);
  writeTree(tree, 0);
  return { base, storage, keys, tree, common };
}

describe('a publish killed with SIGKILL', () => {
  it('leaves the previous snapshot verifiable every time, and the next publish succeeds', async () => {
    const { base, storage, keys, tree, common } = await crashRepo();
    const baseline = ucvm(['repo', 'publish', storage, tree, '--tag', 'g0', '--json', ...common]);
    expect(baseline.status).toBe(0);

    // How long an uninterrupted publish of a changed tree takes, to spread the kills over it.
    writeTree(tree, 1);
    const started = Date.now();
    expect(ucvm(['repo', 'publish', storage, tree, '--tag', 'g1', ...common]).status).toBe(0);
    const duration = Date.now() - started;

    // With the real client on this machine, "mountable" is checked by mounting, not only by verify.
    const client = findCvmfsClient();
    const server = client === undefined ? undefined : await serveInChild([storage]);
    const mountAndRead = async (i: number): Promise<string | undefined> => {
      if (client === undefined || server === undefined) return undefined;
      const mount = await mountRepository(client, {
        work: base,
        baseUrl: `${server.url}/crash.example.org`,
        fqrn: 'crash.example.org',
        publicKey: path.join(keys, 'crash.example.org.pub'),
        name: `kill-${i}`,
      });
      try {
        return readFileSync(path.join(mount.dir, 'dir7', 'f3'), 'utf8');
      } finally {
        mount.unmount();
      }
    };

    const random = prng(20261125);
    let generation = 1;
    let revision = (await verified(storage, keys)).revision;
    let killed = 0;
    for (let i = 2; i < 14; i++) {
      writeTree(tree, i);
      const run = startUcvm(['repo', 'publish', storage, tree, '--tag', `g${i}`, ...common]);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * duration)));
      if (run.child.kill('SIGKILL')) killed++;
      const result = await run.done;
      const report = await verified(storage, keys);
      expect(report.problems, `after kill ${i}`).toEqual([]);
      // Either the old revision is still current, or the publish finished before the kill.
      expect([revision, revision + 1]).toContain(report.revision);
      if (result.status === 0) expect(report.revision).toBe(revision + 1);
      if (report.revision === revision + 1) generation = i;
      revision = report.revision;
      const seen = await mountAndRead(i);
      if (seen !== undefined)
        expect(seen.split('\n')[0]).toBe(`generation ${generation} dir 7 file 3`);
    }
    expect(killed).toBeGreaterThan(5);

    writeTree(tree, 99);
    const final = ucvm(['repo', 'publish', storage, tree, '--tag', 'final', '--json', ...common]);
    expect(final.status, final.stderr).toBe(0);
    expect(JSON.parse(final.stdout)).toMatchObject({ revision: revision + 1, tag: 'final' });
    expect((await verified(storage, keys)).problems).toEqual([]);
    await server?.close();
    const gc = ucvm(['repo', 'gc', storage, '--json', ...common]);
    expect(gc.status).toBe(0);
  }, 300_000);

  it('keeps catalogs right when publishes that patch them are killed', async () => {
    const { storage, keys, tree, common } = await crashRepo();
    expect(ucvm(['repo', 'publish', storage, tree, '--tag', 'p0', ...common]).status).toBe(0);

    // A few files change per round, so that the catalogs on their paths are patched.
    const random = prng(20261201);
    const expected = new Map<string, string>();
    const change = (round: number): void => {
      for (let k = 0; k < 4; k++) {
        const file = `/dir${Math.floor(random() * 20)}/f${Math.floor(random() * 50)}`;
        const body = `round ${round} change ${k}\n`;
        writeFileSync(path.join(tree, file), body);
        expected.set(file, body);
      }
    };
    change(1);
    const started = Date.now();
    const timed = ucvm(['repo', 'publish', storage, tree, '--tag', 'p1', '--json', ...common]);
    expect(timed.status).toBe(0);
    const timedResult = JSON.parse(timed.stdout) as { stats: { catalogsPatched: number } };
    expect(timedResult.stats.catalogsPatched).toBeGreaterThan(0);
    const duration = Date.now() - started;

    let killed = 0;
    for (let round = 2; round < 12; round++) {
      change(round);
      const run = startUcvm(['repo', 'publish', storage, tree, '--tag', `p${round}`, ...common]);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * duration)));
      if (run.child.kill('SIGKILL')) killed++;
      await run.done;
      expect((await verified(storage, keys)).problems, `after round ${round}`).toEqual([]);
    }
    expect(killed).toBeGreaterThan(3);

    const final = ucvm(['repo', 'publish', storage, tree, '--tag', 'final', '--json', ...common]);
    expect(final.status, final.stderr).toBe(0);
    const repository = await Repository.open(directorySource(storage));
    try {
      const snapshot = await repository.snapshot('final');
      for (let d = 0; d < 20; d++) {
        for (let f = 0; f < 50; f++) {
          const file = `/dir${d}/f${f}`;
          const content = (await snapshot.readFile(file)).toString();
          expect(content, file).toBe(readFileSync(path.join(tree, file), 'utf8'));
        }
      }
      for (const [file, body] of expected)
        expect((await snapshot.readFile(file)).toString()).toBe(body);
    } finally {
      repository.close();
    }
  }, 300_000);

  it('keeps every tag whole through spool loss, storage restores and gc between killed publishes', async () => {
    const { base, storage, keys, tree, common } = await crashRepo();
    const spool = path.join(base, 'spool');
    const otherSpool = ['--keys', keys, '--spool', path.join(base, 'other-spool')];
    const env = { UCVM_KEYS_DIR: keys };
    expect(ucvm(['repo', 'publish', storage, tree, '--tag', 'r0', ...common]).status).toBe(0);
    const backup = path.join(base, 'backup');
    cpSync(storage, backup, { recursive: true });
    const started = Date.now();
    writeTree(tree, 1);
    expect(ucvm(['repo', 'publish', storage, tree, '--tag', 'r1', ...common]).status).toBe(0);
    const duration = Date.now() - started;

    const random = prng(20261202);
    const tags = ['r0', 'r1'];
    const check = async (step: string): Promise<void> => {
      expect((await verified(storage, keys)).problems, step).toEqual([]);
      expect(independentProblems(storage, base), step).toEqual([]);
    };
    // Each disturbance twice, each followed by a publish killed at a random point.
    for (let round = 2; round < 8; round++) {
      const disturbance = ['spool lost', 'storage restored', 'gc by another spool'][round % 3]!;
      if (disturbance === 'spool lost') rmSync(spool, { recursive: true, force: true });
      if (disturbance === 'storage restored') {
        rmSync(storage, { recursive: true });
        cpSync(backup, storage, { recursive: true });
        tags.splice(0, tags.length, 'r0');
      }
      if (disturbance === 'gc by another spool' && tags.length > 2) {
        const old = tags.shift()!;
        expect(ucvm(['repo', 'untag', storage, old, ...otherSpool]).status).toBe(0);
        const gc = ucvm(['repo', 'gc', storage, '--apply', ...otherSpool]);
        expect(gc.status, gc.stderr).toBe(0);
      }
      await check(`round ${round}: ${disturbance}`);
      if (random() < 0.5) cpSync(storage, backup, { recursive: true, force: true });
      writeTree(tree, round);
      const tag = `r${round}`;
      const killed = startUcvm(['repo', 'publish', storage, tree, '--tag', tag, ...common], env);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * duration)));
      killed.child.kill('SIGKILL');
      await killed.done;
      await check(`round ${round}: killed`);
      // The next run finishes the job, whatever the kill left.
      const finish = ucvm(['repo', 'publish', storage, tree, '--tag', tag, '--json', ...common]);
      expect(finish.status, finish.stderr).toBe(0);
      tags.push(tag);
      await check(`round ${round}: finished`);
      const repository = await Repository.open(directorySource(storage));
      try {
        const content = (await (await repository.snapshot(tag)).readFile('/dir7/f3')).toString();
        expect(content.split('\n')[0]).toBe(`generation ${round} dir 7 file 3`);
      } finally {
        repository.close();
      }
    }
  }, 600_000);
});
