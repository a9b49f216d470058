import { cpSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveRepositories } from '../../src/serve/index.js';
import { startUcvm } from '../helpers/cli.js';
import { makeRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { tmpdir, writeTree } from '../helpers/tmp.js';

interface Report {
  ok: boolean;
  problems: string[];
  replica: { revision: number };
  objects: number;
  missing: number;
}

describe('ucvm repo verify --url: a replica compared with its stratum 0', () => {
  it('matches a complete copy, and names a replica that is behind or lacks objects', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir();
    buildRichTree(tree);
    await repo.publisher.publish({ tree, tag: 'v1' });
    // The replica: a copy of the stratum 0's files, served as a stratum 1 serves them.
    const replicaDir = path.join(await tmpdir(), 'test.example.org');
    cpSync(repo.storage, replicaDir, { recursive: true });
    const server = await serveRepositories({
      repositories: new Map([['test.example.org', replicaDir]]),
    });
    try {
      const verify = async () => {
        const run = await startUcvm([
          'repo',
          'verify',
          repo.storage,
          '--url',
          `${server.url}/test.example.org`,
          '--keys',
          repo.keys,
          '--json',
        ]).done;
        expect(run.stdout, run.stderr).not.toBe('');
        return { status: run.status, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
      };
      const same = await verify();
      expect(same.report.problems).toEqual([]);
      expect(same.status).toBe(0);
      expect(same.report.objects).toBeGreaterThan(10);

      // The stratum 0 moves on; the replica has not taken a snapshot yet.
      await writeTree(tree, { 'etc/new-file': 'new\n' });
      await repo.publisher.publish({ tree, tag: 'v2' });
      const behind = await verify();
      expect(behind.status).toBe(1);
      expect(behind.report.problems).toEqual(
        expect.arrayContaining([
          'the replica is behind: revision 2, the stratum 0 is at 3 (run its snapshot, or wait for the next one)',
          'tag v2 is missing from the replica',
          expect.stringMatching(/^root catalogs differ/),
        ]),
      );
      expect(behind.report.missing).toBeGreaterThan(0);

      // The snapshot copies everything again, but one object got lost on the way.
      rmSync(replicaDir, { recursive: true });
      cpSync(repo.storage, replicaDir, { recursive: true });
      // A file's content (no suffix): both tags reach every file the tree has.
      const content = (file: string) => /^[0-9a-f]{38}$/.test(file);
      const folder = readdirSync(path.join(replicaDir, 'data')).find((name) =>
        readdirSync(path.join(replicaDir, 'data', name)).some(content),
      )!;
      const lost = readdirSync(path.join(replicaDir, 'data', folder)).find(content)!;
      rmSync(path.join(replicaDir, 'data', folder, lost));
      const incomplete = await verify();
      expect(incomplete.status).toBe(1);
      expect(incomplete.report.missing).toBe(1);
      expect(incomplete.report.problems).toEqual([
        `data/${folder}/${lost} is missing from the replica`,
      ]);
    } finally {
      await server.close();
    }
  });
});
