import { createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVerifiedRepository } from '../../src/reader/open.js';
import { httpSource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { startUcvm, type CliResult } from '../helpers/cli.js';
import {
  S3_CREDENTIALS,
  startFaultyProxy,
  startS3Server,
  type S3TestServer,
} from '../helpers/s3-server.js';
import { tmpdir } from '../helpers/tmp.js';

const FQRN = 'bucket.example.org';
let s3: S3TestServer;
let buckets = 0;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => s3?.close());

/** The standard AWS chain reads these; a test never puts a secret on a command line. */
const awsEnv = (
  secret: string = S3_CREDENTIALS.secretAccessKey,
  id: string = S3_CREDENTIALS.accessKeyId,
) => ({
  AWS_ACCESS_KEY_ID: id,
  AWS_SECRET_ACCESS_KEY: secret,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_MAX_ATTEMPTS: '2',
});

/** ucvm in a child process: the S3 server lives in this one and must keep answering. */
async function ucvm(args: string[], env: Record<string, string> = awsEnv()): Promise<CliResult> {
  return startUcvm(args, env).done;
}

function writeTree(root: string, generation: number): void {
  for (let d = 0; d < 10; d++) {
    mkdirSync(path.join(root, `dir${d}`), { recursive: true });
    for (let f = 0; f < 30; f++)
      writeFileSync(
        path.join(root, `dir${d}`, `f${f}`),
        `generation ${generation} dir ${d} file ${f}\n`.repeat(100 + ((d * 30 + f) % 23) * 40),
      );
  }
}

async function setup() {
  const bucket = `fail-${++buckets}`;
  await s3.createBucket(bucket);
  const base = await tmpdir();
  const keys = path.join(base, 'keys');
  const location = `s3://${bucket}/${FQRN}`;
  const s3Args = (endpoint = s3.endpoint) => ['--s3-endpoint', endpoint, '--s3-path-style'];
  const common = ['--keys', keys, '--spool', path.join(base, 'spool')];
  const init = await ucvm(['repo', 'init', location, ...common, ...s3Args()]);
  expect(init.status, init.stderr).toBe(0);
  const tree = path.join(base, 'tree');
  writeTree(tree, 0);
  const url = `${s3.endpoint}/${bucket}/${FQRN}`;
  const state = async () => {
    const masterKeys = [createPublicKey(readFileSync(path.join(keys, `${FQRN}.pub`)))];
    const repository = await openVerifiedRepository(httpSource(url), { masterKeys });
    const report = await verifyRepository(repository, { masterKeys, now: new Date() });
    const tags = (await repository.tags()).map((tag) => tag.name).sort();
    repository.close();
    return { problems: report.problems, revision: report.revision, tags };
  };
  return { bucket, location, common, s3Args, tree, state, base };
}

describe('publishing into a bucket that fails', () => {
  it('refuses wrong credentials and a missing bucket with a clear error, and publishes nothing', async () => {
    const repo = await setup();
    const secret = 'not-the-secret-0123456789';
    const wrong = await ucvm(
      [
        'repo',
        'publish',
        repo.location,
        repo.tree,
        '--tag',
        'v1',
        ...repo.common,
        ...repo.s3Args(),
      ],
      awsEnv(secret, 'NOBODY'),
    );
    expect(wrong.status, wrong.stderr).toBe(1);
    expect(wrong.stderr).toMatch(
      /error STORAGE_IO: cannot .* s3:\/\/fail-\d+\/.*: 403 (InvalidAccessKeyId|Forbidden)/,
    );
    expect(wrong.stderr).toContain('check the credentials');
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain(secret);

    const missing = await ucvm([
      'repo',
      'publish',
      `s3://no-such-bucket/${FQRN}`,
      repo.tree,
      '--tag',
      'v1',
      ...repo.common,
      ...repo.s3Args(),
    ]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('error STORAGE_IO: the bucket no-such-bucket does not exist');
    expect(await repo.state()).toMatchObject({ problems: [], revision: 1 });
  });

  it('a bucket that starts answering 500 halfway: the publish fails naming the key, the last revision stays, the next run finishes', async () => {
    const repo = await setup();
    const proxy = await startFaultyProxy(s3.endpoint);
    try {
      proxy.failWritesAfter(40);
      const failed = await ucvm([
        'repo',
        'publish',
        repo.location,
        repo.tree,
        '--tag',
        'v1',
        ...repo.common,
        ...repo.s3Args(proxy.endpoint),
      ]);
      expect(failed.status, failed.stderr).toBe(1);
      expect(failed.stderr).toMatch(
        /error STORAGE_IO: cannot \w+ s3:\/\/fail-\d+\/bucket\.example\.org\/\S+: 500 InternalError/,
      );
      expect(failed.stderr).toContain('Failed after 2 attempts.');
      expect(failed.stderr).toContain('the next run finishes the job');
      expect(proxy.counts().refused).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
    expect(await repo.state()).toMatchObject({ problems: [], revision: 1 });
    const next = await ucvm([
      'repo',
      'publish',
      repo.location,
      repo.tree,
      '--tag',
      'v1',
      ...repo.common,
      ...repo.s3Args(),
    ]);
    expect(next.status, next.stderr).toBe(0);
    expect(await repo.state()).toMatchObject({ problems: [], revision: 2 });
  });

  it('a publish killed with SIGKILL at random points leaves the last revision intact; the next run finishes the job', async () => {
    const repo = await setup();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let revision = 1;
    for (let generation = 1; generation <= 3; generation++) {
      writeTree(repo.tree, generation);
      const args = [
        'repo',
        'publish',
        repo.location,
        repo.tree,
        '--tag',
        `g${generation}`,
        ...repo.common,
        ...repo.s3Args(),
      ];
      for (let kill = 0; kill < 2; kill++) {
        const run = startUcvm(args, awsEnv());
        await new Promise((resolve) => setTimeout(resolve, 300 + random() * 1700));
        run.child.kill('SIGKILL');
        const result = await run.done;
        const state = await repo.state();
        expect(state.problems).toEqual([]);
        if (result.status === 0 || state.tags.includes(`g${generation}`)) {
          revision++;
          expect(state.revision).toBe(revision);
          break;
        }
        expect(state.revision).toBe(revision);
      }
      const state = await repo.state();
      if (!state.tags.includes(`g${generation}`)) {
        // The killed run's lease names a process of this machine that is gone: no wait.
        const finished = await ucvm(args);
        expect(finished.status, finished.stderr).toBe(0);
        revision++;
      }
      expect(await repo.state()).toMatchObject({ problems: [], revision });
    }
    expect((await repo.state()).tags).toEqual(expect.arrayContaining(['g1', 'g2', 'g3']));
    // Up to nine publishes in child processes: 15 s alone, several times that beside the
    // other test files CI runs at the same time.
  }, 240_000);
});
