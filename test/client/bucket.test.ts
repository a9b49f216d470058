import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import {
  CLIENT_SKIP_REASON,
  findCvmfsClient,
  mountRepository,
  swissknifeCheck,
} from '../helpers/cvmfs-client.js';
import { describeTree } from '../helpers/describe-tree.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { S3_CREDENTIALS, startS3ServerInChild } from '../helpers/s3-server.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const client = findCvmfsClient();
if (client === undefined) console.log(`test/client (bucket): ${CLIENT_SKIP_REASON}`);

process.env.AWS_EC2_METADATA_DISABLED = 'true';

describe.skipIf(client === undefined)(
  "the real client mounts a repository from its bucket's HTTP endpoint",
  () => {
    const fqrn = 'bucket.example.org';
    let work: string;
    let s3: { endpoint: string; close(): Promise<void> };
    let tree: string;
    let keys: string;

    beforeAll(async () => {
      work = await makeTempDir('ucvm-client-bucket-');
      s3 = await startS3ServerInChild(['stratum0']);
      tree = path.join(work, 'tree');
      buildRichTree(tree);
      keys = path.join(work, 'keys');
      const publisher = createEmbeddedPublisher({
        storage: `s3://stratum0/cvmfs/${fqrn}`,
        s3: { endpoint: s3.endpoint, pathStyle: true, credentials: { ...S3_CREDENTIALS } },
        keysDir: keys,
        spoolDir: path.join(work, 'spool'),
      });
      await publisher.init({ whitelistDays: 30 });
      await publisher.publish({ tree, tag: 'v1', rollingTags: ['HEAD'] });
    }, 120_000);
    afterAll(async () => {
      await s3?.close();
      await removeDir(work);
    });

    it('shows exactly the published tree, and cvmfs_swissknife check passes', async () => {
      const baseUrl = `${s3.endpoint}/stratum0/cvmfs/${fqrn}`;
      const publicKey = path.join(keys, `${fqrn}.pub`);
      const mount = await mountRepository(client!, {
        work,
        baseUrl,
        fqrn,
        publicKey,
        tag: 'HEAD',
        name: 'bucket',
      });
      try {
        expect(describeTree(mount.dir)).toEqual(describeTree(tree));
      } finally {
        mount.unmount();
      }
      if (client!.swissknife !== undefined) {
        const check = await swissknifeCheck(client!, { work, baseUrl, fqrn, publicKey });
        expect(check.status, check.output).toBe(0);
      }
    });
  },
);
