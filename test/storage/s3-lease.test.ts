import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { LEASE_NAME } from '../../src/storage/s3/index.js';
import { S3Storage } from '../../src/storage/s3/storage.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { tmpdir } from '../helpers/tmp.js';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

let s3: S3TestServer;
let buckets = 0;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => s3?.close());

async function bucket(): Promise<{ location: string; bucket: string; prefix: string }> {
  const name = `lease-${++buckets}`;
  await s3.createBucket(name);
  return {
    location: `s3://${name}/cvmfs/test.example.org`,
    bucket: name,
    prefix: 'cvmfs/test.example.org/',
  };
}

const request = (holder: string, waitMs = 0) => ({ holder, waitMs });

async function leaseOf(where: {
  bucket: string;
  prefix: string;
}): Promise<Record<string, unknown>> {
  const response = await s3
    .client()
    .send(new GetObjectCommand({ Bucket: where.bucket, Key: `${where.prefix}${LEASE_NAME}` }));
  return JSON.parse(await response.Body!.transformToString()) as Record<string, unknown>;
}

async function plantLease(
  where: { bucket: string; prefix: string },
  lease: Record<string, unknown>,
) {
  await s3.client().send(
    new PutObjectCommand({
      Bucket: where.bucket,
      Key: `${where.prefix}${LEASE_NAME}`,
      Body: JSON.stringify(lease),
    }),
  );
}

function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
}

describe('the lease: one writer of a bucket at a time', () => {
  it('gives the lease to one of two racing writers; the other is refused, naming the holder, or queues', async () => {
    const where = await bucket();
    const first = new S3Storage(where.location, s3.connection());
    const second = new S3Storage(where.location, s3.connection());
    const outcomes = await Promise.allSettled([
      first.lock(request('ucvm publish (first)')),
      second.lock(request('ucvm publish (second)')),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o) => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const error = (lost[0] as PromiseRejectedResult).reason as Error;
    expect(isUcvmError(error, 'REPO_LOCKED')).toBe(true);
    expect((error as { details?: string }).details).toMatch(
      /Held by: ucvm publish \((first|second)\) on /,
    );

    // A third writer queues behind the holder and gets the lease once it is released.
    const third = new S3Storage(where.location, s3.connection());
    let waitedFor = '';
    const queued = third.lock({
      holder: 'ucvm publish (third)',
      waitMs: 20_000,
      onWait: (h) => (waitedFor = h),
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    const held = await queued;
    expect(waitedFor).toMatch(/ucvm publish \((first|second)\)/);
    expect((await leaseOf(where)).holder).toBe('ucvm publish (third)');
    await held.release();
  });

  it('two publishers racing on one bucket: one publishes, the other is refused and nothing of it is signed', async () => {
    const where = await bucket();
    const base = await tmpdir({ 'a.txt': 'a\n' });
    const keysDir = path.join(base, 'keys');
    const open = (spool: string) =>
      createEmbeddedPublisher({
        storage: where.location,
        s3: s3.connection(),
        keysDir,
        spoolDir: path.join(base, spool),
      });
    await open('one').init({ whitelistDays: 30 });
    const tree = await tmpdir({ 'x.txt': 'x\n' });
    const results = await Promise.allSettled([
      open('one').publish({ tree, tag: 'from-one' }),
      open('two').publish({ tree, tag: 'from-two' }),
    ]);
    const published = results.filter((r) => r.status === 'fulfilled');
    expect(published).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(isUcvmError(refused.reason, 'REPO_LOCKED')).toBe(true);
    const state = await open('three').state();
    expect(state.revision).toBe(2);
    expect(state.tags.map((t) => t.name).filter((n) => n.startsWith('from-'))).toHaveLength(1);
  });

  it('takes over a lease only once it has expired, or at once when its holder was a process of this machine that is gone', async () => {
    const where = await bucket();
    const inAMinute = new Date(Date.now() + 60_000).toISOString();
    await plantLease(where, {
      id: 'x',
      holder: 'ucvm publish (pid 4242)',
      host: 'stratum0.example.org',
      bootId: 'another-boot',
      pid: 4242,
      acquiredAt: new Date().toISOString(),
      expiresAt: inAMinute,
    });
    const storage = new S3Storage(where.location, s3.connection());
    const refused = await storage.lock(request('me')).catch((error: unknown) => error);
    expect(isUcvmError(refused, 'REPO_LOCKED')).toBe(true);
    expect((refused as { details: string }).details).toContain(
      `ucvm publish (pid 4242) on stratum0.example.org, lease until ${inAMinute}`,
    );

    // Expired: taken over, and said so.
    await plantLease(where, {
      id: 'x',
      holder: 'ucvm publish (pid 4242)',
      host: 'stratum0.example.org',
      bootId: 'another-boot',
      pid: 4242,
      acquiredAt: new Date(Date.now() - 300_000).toISOString(),
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    const takeovers: string[] = [];
    const taker = new S3Storage(
      where.location,
      s3.connection({ lease: { onTakeover: (h, why) => takeovers.push(`${h}: ${why}`) } }),
    );
    const held = await taker.lock(request('me'));
    expect(takeovers).toEqual([
      expect.stringMatching(/^ucvm publish \(pid 4242\) on stratum0.example.org: it expired at /),
    ]);
    expect((await leaseOf(where)).holder).toBe('me');
    await held.release();

    // A process of this machine that is gone (SIGKILLed): no need to wait for the expiry.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await plantLease(where, {
      id: 'y',
      holder: `ucvm publish (pid ${dead})`,
      host: hostname(),
      bootId: bootId(),
      pid: dead,
      acquiredAt: new Date().toISOString(),
      expiresAt: inAMinute,
    });
    takeovers.length = 0;
    const again = await taker.lock(request('me again'));
    expect(takeovers).toEqual([`ucvm publish (pid ${dead}) on ${hostname()}: its process is gone`]);
    await again.release();
    // A live process of this machine keeps its lease.
    await plantLease(where, {
      id: 'z',
      holder: `ucvm publish (pid ${process.pid})`,
      host: hostname(),
      bootId: bootId(),
      pid: process.pid,
      acquiredAt: new Date().toISOString(),
      expiresAt: inAMinute,
    });
    expect(
      isUcvmError(await taker.lock(request('me')).catch((e: unknown) => e), 'REPO_LOCKED'),
    ).toBe(true);
  });

  it("renews the lease while it works, and never signs after losing it or over another writer's manifest", async () => {
    const where = await bucket();
    const storage = new S3Storage(where.location, s3.connection({ lease: { ttlMs: 800 } }));
    const held = await storage.lock(request('slow writer'));
    const firstExpiry = (await leaseOf(where)).expiresAt as string;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(Date.parse((await leaseOf(where)).expiresAt as string)).toBeGreaterThan(
      Date.parse(firstExpiry),
    );
    // Somebody takes the lease over (as if this writer had stalled past the expiry).
    await plantLease(where, {
      id: 'thief',
      holder: 'another writer',
      host: 'elsewhere',
      bootId: '',
      pid: 1,
      acquiredAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const error = await storage
      .replace('.cvmfspublished', Buffer.from('forged'))
      .catch((e: unknown) => e);
    expect(isUcvmError(error, 'REPO_LOCKED')).toBe(true);
    expect(String((error as Error).message)).toContain('lost the lease');
    expect(await storage.read('.cvmfspublished')).toBeUndefined();
    await held.release();
    expect((await leaseOf(where)).holder).toBe('another writer'); // not ours: left alone

    // The manifest changed under the lease (a writer that ignored it): the commit is refused.
    const other = await bucket();
    const writer = new S3Storage(other.location, s3.connection());
    const lease = await writer.lock(request('writer'));
    await s3.client().send(
      new PutObjectCommand({
        Bucket: other.bucket,
        Key: `${other.prefix}.cvmfspublished`,
        Body: 'theirs',
      }),
    );
    const refused = await writer
      .replace('.cvmfspublished', Buffer.from('ours'))
      .catch((e: unknown) => e);
    expect(isUcvmError(refused, 'REPO_LOCKED')).toBe(true);
    expect(String((refused as Error).message)).toContain('published to by another writer');
    expect((await writer.read('.cvmfspublished'))?.toString()).toBe('theirs');
    await lease.release();
  });
});
