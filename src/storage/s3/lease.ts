import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { UcvmError } from '../../errors.js';
import type { LockRequest, WriterLock } from '../storage.js';
import { isNotFound, isPreconditionFailed, s3Error } from './errors.js';
import { LEASE_NAME, type S3Location } from './location.js';

export interface LeaseOptions {
  /** How long a lease lasts without renewal (default 120 s); renewed every quarter of it. */
  ttlMs?: number;
  /** Called when a lease is taken over from a holder that is gone. */
  onTakeover?: (holder: string, why: string) => void;
  now?: () => number;
}

interface LeaseRecord {
  id: string;
  holder: string;
  host: string;
  bootId: string;
  pid: number;
  acquiredAt: string;
  expiresAt: string;
}

export interface HeldLease extends WriterLock {
  /** Renews now; throws REPO_LOCKED if the lease was lost (expired and taken over). */
  confirm(): Promise<void>;
}

const DEFAULT_TTL_MS = 120_000;

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return '';
  }
}

/** Whether a process of this machine (this boot) with that pid is gone. */
function deadHere(record: LeaseRecord): boolean {
  if (record.host !== hostname() || record.bootId === '' || record.bootId !== bootId())
    return false;
  try {
    process.kill(record.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function parse(bytes: string): LeaseRecord | undefined {
  try {
    const value = JSON.parse(bytes) as Partial<LeaseRecord>;
    return typeof value.id === 'string' && typeof value.expiresAt === 'string'
      ? (value as LeaseRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One writer at a time without a shared disk: a lease object created with a conditional write
 * (`If-None-Match: *`), holding who, since when and until when. The holder renews it with
 * `If-Match` on the version it wrote; another writer takes it over (again with `If-Match`) only
 * once it has expired, or at once when its holder was a process of this machine that is gone.
 * Expiry is judged on the taker's clock against the holder's: keep the publishers' clocks in
 * sync (NTP); the TTL is generous for that reason.
 */
export async function acquireLease(
  client: S3Client,
  location: S3Location,
  request: LockRequest,
  options: LeaseOptions = {},
): Promise<HeldLease> {
  const ttl = options.ttlMs ?? DEFAULT_TTL_MS;
  const now = options.now ?? Date.now;
  const Bucket = location.bucket;
  const Key = `${location.prefix}${LEASE_NAME}`;
  const id = randomBytes(12).toString('hex');
  const record = (): string =>
    `${JSON.stringify({
      id,
      holder: request.holder,
      host: hostname(),
      bootId: bootId(),
      pid: process.pid,
      acquiredAt: new Date(now()).toISOString(),
      expiresAt: new Date(now() + ttl).toISOString(),
    } satisfies LeaseRecord)}\n`;

  const put = async (condition: { IfNoneMatch: '*' } | { IfMatch: string }) => {
    try {
      const response = await client.send(
        new PutObjectCommand({
          Bucket,
          Key,
          Body: record(),
          ContentType: 'application/json',
          ...condition,
        }),
      );
      return response.ETag;
    } catch (error) {
      if (isPreconditionFailed(error)) return undefined;
      throw s3Error(error, 'write the lease', Bucket, Key);
    }
  };
  const current = async (): Promise<
    { etag: string; lease: LeaseRecord | undefined; text: string } | undefined
  > => {
    try {
      const response = await client.send(new GetObjectCommand({ Bucket, Key }));
      const text = (await response.Body!.transformToString()).slice(0, 4096);
      return { etag: response.ETag ?? '', lease: parse(text), text };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw s3Error(error, 'read the lease', Bucket, Key);
    }
  };

  const deadline = now() + request.waitMs;
  let told = false;
  let etag: string | undefined;
  for (;;) {
    etag = await put({ IfNoneMatch: '*' });
    if (etag !== undefined) break;
    const held = await current();
    if (held === undefined) continue;
    const { lease } = held;
    const describe =
      lease === undefined ? 'an unreadable lease' : `${lease.holder} on ${lease.host}`;
    const expired = lease === undefined || Date.parse(lease.expiresAt) < now();
    const gone = lease !== undefined && deadHere(lease);
    if (expired || gone) {
      etag = await put({ IfMatch: held.etag });
      if (etag !== undefined) {
        options.onTakeover?.(
          describe,
          gone ? 'its process is gone' : `it expired at ${lease?.expiresAt ?? '?'}`,
        );
        break;
      }
      continue;
    }
    const holder = `${describe}, lease until ${lease.expiresAt}`;
    if (now() >= deadline)
      throw new UcvmError('REPO_LOCKED', 'another publisher holds the lease of this repository', {
        details: `Held by: ${holder}.\nWait for it to finish, or pass --wait <seconds> to queue behind it.`,
      });
    if (!told && request.waitMs > 0) request.onWait?.(holder);
    told = true;
    await sleep(Math.min(1000, Math.max(50, deadline - now())));
  }

  let lost: UcvmError | undefined;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    if (lost !== undefined) return;
    const renewed = await put({ IfMatch: etag! });
    if (renewed === undefined)
      lost = new UcvmError('REPO_LOCKED', 'this publisher lost the lease of the repository', {
        details:
          'It was not renewed in time (the process stalled or the store was unreachable) and another writer may have taken it over. Nothing was signed; run again.',
      });
    else etag = renewed;
  };
  const timer = setInterval(() => {
    renewing = renewing.then(renew).catch(() => undefined);
  }, ttl / 4);
  timer.unref();

  return {
    async confirm() {
      await renewing;
      await renew();
      if (lost !== undefined) throw lost;
    },
    async release() {
      clearInterval(timer);
      await renewing;
      if (lost !== undefined) return;
      // Deleted only while it is still ours (not every store takes a conditional delete).
      const held = await current().catch(() => undefined);
      if (held?.lease?.id === id)
        await client.send(new DeleteObjectCommand({ Bucket, Key })).catch(() => undefined);
    },
  };
}
