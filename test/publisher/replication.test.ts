import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { serveInChild, startUcvm } from '../helpers/cli.js';
import { findCvmfsClient, mountRepository } from '../helpers/cvmfs-client.js';
import { makeReplica, replicaSkipReason } from '../helpers/cvmfs-server.js';
import { describeTree } from '../helpers/describe-tree.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { makeTempDir, removeDir, writeTree } from '../helpers/tmp.js';

const skip = replicaSkipReason();
if (skip !== undefined) console.log(`test/publisher/replication: skipped: ${skip}`);

process.env.AWS_EC2_METADATA_DISABLED = 'true';

/**
 * A real stratum 1 (`cvmfs_server add-replica`, `snapshot`) copies what ucvm writes, from a
 * directory served by `ucvm repo serve` and from a bucket's HTTP endpoint; the real client
 * mounts the replica; `ucvm repo verify --url` compares it with the stratum 0.
 */
describe.skipIf(skip !== undefined)('a stratum 1 replicating what ucvm publishes', () => {
  let base: string;
  let s3: S3TestServer;
  const cleanup: Array<() => unknown> = [];

  beforeAll(async () => {
    base = await makeTempDir('ucvm-replica-');
    s3 = await startS3Server();
    await s3.createBucket('stratum0');
  });
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
    await s3?.close();
    await removeDir(base);
  });

  for (const storage of ['directory', 'bucket'] as const)
    it(`replicates a repository in a ${storage}, tags and all, and follows its next revision`, async () => {
      const fqrn = `r${randomBytes(3).toString('hex')}.${storage}.test.org`;
      const keys = path.join(base, `keys-${storage}`);
      const tree = path.join(base, `tree-${storage}`);
      buildRichTree(tree);
      const publisher = createEmbeddedPublisher(
        storage === 'directory'
          ? {
              storage: path.join(base, 'srv', fqrn),
              keysDir: keys,
              spoolDir: path.join(base, `spool-${fqrn}`),
            }
          : {
              storage: `s3://stratum0/cvmfs/${fqrn}`,
              s3: s3.connection(),
              keysDir: keys,
              spoolDir: path.join(base, `spool-${fqrn}`),
            },
      );
      await publisher.init({ whitelistDays: 30 });
      await publisher.publish({ tree, tag: 'cernvm-system-1.0.0', rollingTags: ['HEAD'] });

      let stratum0: string;
      if (storage === 'directory') {
        const served = await serveInChild([path.join(base, 'srv', fqrn)]);
        cleanup.push(() => served.close());
        stratum0 = `${served.url}/${fqrn}`;
      } else {
        stratum0 = `${s3.endpoint}/stratum0/cvmfs/${fqrn}`;
      }
      const publicKey = path.join(keys, `${fqrn}.pub`);
      const replica = await makeReplica(fqrn, stratum0, publicKey);
      cleanup.push(() => replica.remove());
      await replica.snapshot();
      const stratum1 = await serveInChild([replica.dir]);
      cleanup.push(() => stratum1.close());
      const replicaUrl = `${stratum1.url}/${fqrn}`;

      const compare = async () => {
        const run = await startUcvm(
          [
            'repo',
            'verify',
            storage === 'directory' ? path.join(base, 'srv', fqrn) : `s3://stratum0/cvmfs/${fqrn}`,
            '--url',
            replicaUrl,
            '--key',
            publicKey,
            '--json',
            ...(storage === 'bucket' ? ['--s3-endpoint', s3.endpoint, '--s3-path-style'] : []),
          ],
          {
            AWS_ACCESS_KEY_ID: 'S3RVER',
            AWS_SECRET_ACCESS_KEY: 'S3RVER',
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        ).done;
        expect(run.stdout, run.stderr).not.toBe('');
        return {
          status: run.status,
          report: JSON.parse(run.stdout) as { ok: boolean; problems: string[] },
        };
      };
      expect((await compare()).report.problems).toEqual([]);

      const client = findCvmfsClient();
      if (client !== undefined) {
        const mount = await mountRepository(client, {
          work: path.join(base, `client-${fqrn}`),
          baseUrl: replicaUrl,
          fqrn,
          publicKey,
          tag: 'cernvm-system-1.0.0',
          name: 'replica',
        });
        try {
          const mounted = describeTree(mount.dir);
          expect(mounted.get('/etc/motd')).toContain('xattrs=user.foo="bar"');
          expect(mounted.get('/links/a')).toContain('nlink=2');
          expect(mounted.size).toBeGreaterThan(15);
        } finally {
          mount.unmount();
        }
      }

      // The stratum 0 moves on: the replica is behind until its next snapshot.
      await writeTree(tree, { 'etc/version': '1.1.0\n' });
      await publisher.publish({ tree, tag: 'cernvm-system-1.1.0', rollingTags: ['HEAD'] });
      const behind = await compare();
      expect(behind.status).toBe(1);
      expect(behind.report.problems.join('\n')).toContain('the replica is behind');
      await replica.snapshot();
      const caughtUp = await compare();
      expect(caughtUp.report.problems).toEqual([]);
      expect(caughtUp.status).toBe(0);
    }, 240_000);
});
