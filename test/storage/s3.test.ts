import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import { httpSource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { LEASE_NAME, S3Storage } from '../../src/storage/s3/index.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { tmpdir } from '../helpers/tmp.js';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

let s3: S3TestServer;
let bucketCount = 0;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => s3?.close());

/** A fresh bucket and an initialized repository in it, under a prefix named after the repository. */
async function bucketRepo(fqrn = 'test.example.org') {
  const bucket = `ucvm-${++bucketCount}`;
  await s3.createBucket(bucket);
  const base = await tmpdir();
  const location = `s3://${bucket}/cvmfs/${fqrn}`;
  const keysDir = path.join(base, 'keys');
  const open = (spool = 'spool') =>
    createEmbeddedPublisher({
      storage: location,
      s3: s3.connection(),
      keysDir,
      spoolDir: path.join(base, spool),
    });
  const publisher = open();
  await publisher.init({ whitelistDays: 30 });
  const masterKeys = [createPublicKey(readFileSync(path.join(keysDir, `${fqrn}.pub`)))];
  const url = `${s3.endpoint}/${bucket}/cvmfs/${fqrn}`;
  return { bucket, base, location, keysDir, publisher, open, masterKeys, url, fqrn };
}

describe('a repository in an S3 bucket', () => {
  it("publishes a tree into the bucket; the reader reads it through the bucket's HTTP URL and verifies it", async () => {
    const repo = await bucketRepo();
    const tree = await tmpdir({
      'etc/motd': 'hello from a bucket\n',
      'usr/bin/tool': Buffer.alloc(300_000, 7),
      'usr/share/doc/x': 'x'.repeat(5000),
    });
    const result = await repo.publisher.publish({ tree, tag: 'v1' });
    expect(result.revision).toBe(2);
    const repository = await openVerifiedRepository(httpSource(repo.url), {
      masterKeys: repo.masterKeys,
    });
    const snapshot = await repository.snapshot('v1');
    expect((await snapshot.readFile('/etc/motd')).toString()).toBe('hello from a bucket\n');
    expect((await snapshot.readFile('/usr/bin/tool')).equals(Buffer.alloc(300_000, 7))).toBe(true);
    const report = await verifyRepository(repository, {
      masterKeys: repo.masterKeys,
      now: new Date(),
    });
    expect(report.problems).toEqual([]);
    repository.close();
    // The lease is gone once the publish is over.
    const storage = new S3Storage(repo.location, s3.connection());
    expect(await storage.missing([LEASE_NAME, '.cvmfspublished', '.cvmfs_master_replica'])).toEqual(
      [LEASE_NAME],
    );
  });
});
