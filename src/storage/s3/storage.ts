import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pLimit from 'p-limit';
import { UcvmError } from '../../errors.js';
import type { RepoSource } from '../../reader/source.js';
import type { LockRequest, RepoStorage, WorkerTarget, WriterLock } from '../storage.js';
import { createS3Client, DEFAULT_CONCURRENCY } from './client.js';
import { isNotFound, isPreconditionFailed, s3Error, statusOf } from './errors.js';
import { acquireLease, type HeldLease, type LeaseOptions } from './lease.js';
import {
  formatS3Location,
  parseS3Location,
  type S3Connection,
  type S3Location,
} from './location.js';
import { s3Source } from './source.js';

/** Objects above this go up in parts (retried part by part). */
const MULTIPART_BYTES = 16 << 20;
const PART_BYTES = 8 << 20;
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;
/**
 * A `data/xx/` folder with more names asked about than this is listed (1000 keys a request)
 * rather than asked key by key: the check before signing asks for every object of the new
 * revision, a few per folder even for a small tree.
 */
const LIST_THRESHOLD = 2;
const MANIFEST = '.cvmfspublished';

export interface S3StorageOptions extends S3Connection {
  lease?: LeaseOptions;
  /** A client to use instead of one made from the connection (tests). */
  client?: S3Client;
}

/**
 * A repository in an S3-compatible bucket, in the same layout as a directory (`data/xx/…`,
 * `.cvmfspublished` at the top), under an optional key prefix. Objects are written once
 * (`If-None-Match: *`); the signed manifest last, and only over the version this writer found
 * when it took the lease (`If-Match`): a writer that lost its lease cannot sign over another's
 * revision. One writer at a time through a lease object (./lease.ts). Nothing is ever read
 * from the bucket's listing that a client would trust: listings only decide what exists.
 */
export class S3Storage implements RepoStorage {
  readonly bucketLocation: S3Location;
  readonly client: S3Client;
  private readonly limit: ReturnType<typeof pLimit>;
  private lease: HeldLease | undefined;
  /** The manifest's ETag when the lease was taken (null: there was none), for the commit's If-Match. */
  private manifestVersion: string | null | undefined;

  constructor(
    location: string,
    private readonly options: S3StorageOptions = {},
  ) {
    this.bucketLocation = parseS3Location(location);
    this.client = options.client ?? createS3Client(options);
    this.limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY);
  }

  get location(): string {
    return formatS3Location(this.bucketLocation);
  }

  private key(name: string): string {
    return `${this.bucketLocation.prefix}${name}`;
  }

  private fail(error: unknown, operation: string, name: string): unknown {
    return s3Error(error, operation, this.bucketLocation.bucket, this.key(name));
  }

  source(): RepoSource {
    return s3Source(this.client, this.bucketLocation);
  }

  async prepare(): Promise<void> {
    const Bucket = this.bucketLocation.bucket;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket }));
    } catch (error) {
      if (statusOf(error) === 404)
        throw new UcvmError('STORAGE_IO', `the bucket ${Bucket} does not exist`, {
          details: `Create it (or correct the bucket of ${this.location}); ucvm never creates buckets, whose policy is the site's.`,
          cause: error,
        });
      throw s3Error(error, 'reach the bucket of', Bucket, this.bucketLocation.prefix);
    }
    // Replication reads this marker (cvmfs_server add-replica checks the stratum 0 has it).
    await this.putIfAbsent('.cvmfs_master_replica', new Uint8Array());
  }

  async initialized(): Promise<boolean> {
    return (await this.missing([MANIFEST])).length === 0;
  }

  read(name: string): Promise<Buffer | undefined> {
    return this.source().read(name);
  }

  async missing(names: Iterable<string>): Promise<string[]> {
    const byFolder = new Map<string, string[]>();
    for (const name of names) {
      const folder = /^data\/[0-9a-f]{2}\//.exec(name)?.[0] ?? '';
      const list = byFolder.get(folder);
      if (list === undefined) byFolder.set(folder, [name]);
      else list.push(name);
    }
    const missing: string[] = [];
    await Promise.all(
      [...byFolder].map(async ([folder, asked]) => {
        if (folder !== '' && asked.length > LIST_THRESHOLD) {
          const present = new Set<string>();
          for await (const { name } of this.listUnder(folder)) present.add(name);
          missing.push(...asked.filter((name) => !present.has(name)));
        } else {
          const found = await Promise.all(asked.map((name) => this.limit(() => this.exists(name))));
          missing.push(...asked.filter((_, index) => !found[index]));
        }
      }),
    );
    return missing;
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucketLocation.bucket, Key: this.key(name) }),
      );
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw this.fail(error, 'look up', name);
    }
  }

  async putIfAbsent(name: string, bytes: Uint8Array): Promise<boolean> {
    if (bytes.length > MULTIPART_BYTES) {
      if (await this.exists(name)) return false;
      await this.upload(name, bytes);
      return true;
    }
    return this.limit(async () => {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucketLocation.bucket,
            Key: this.key(name),
            Body: bytes,
            ContentLength: bytes.length,
            IfNoneMatch: '*',
          }),
        );
        return true;
      } catch (error) {
        if (isPreconditionFailed(error)) return false;
        throw this.fail(error, 'write', name);
      }
    });
  }

  private async upload(name: string, bytes: Uint8Array): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucketLocation.bucket, Key: this.key(name), Body: bytes },
      partSize: PART_BYTES,
      queueSize: 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      throw this.fail(error, 'upload', name);
    }
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    // The commit: the lease must still be ours, and the manifest the one we built on.
    const condition: { IfMatch?: string; IfNoneMatch?: string } = {};
    if (name === MANIFEST && this.lease !== undefined) {
      await this.lease.confirm();
      if (this.manifestVersion === null) condition.IfNoneMatch = '*';
      else if (this.manifestVersion !== undefined) condition.IfMatch = this.manifestVersion;
    }
    try {
      const response = await this.limit(() =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucketLocation.bucket,
            Key: this.key(name),
            Body: bytes,
            ContentLength: bytes.length,
            ...condition,
          }),
        ),
      );
      if (name === MANIFEST && this.lease !== undefined) this.manifestVersion = response.ETag;
    } catch (error) {
      if (name === MANIFEST && isPreconditionFailed(error))
        throw new UcvmError(
          'REPO_LOCKED',
          `${this.location} was published to by another writer meanwhile`,
          {
            details:
              'Its signed manifest is no longer the one this run built on, so nothing was signed: another publisher ignored or took over the lease. Run again: it builds on the new revision.',
          },
        );
      throw this.fail(error, 'write', name);
    }
  }

  async remove(name: string): Promise<void> {
    await this.removeAll([name]);
  }

  /** Deletes in batches of DeleteObjects; a key that is already gone counts as removed. */
  async removeAll(names: readonly string[]): Promise<void> {
    for (let start = 0; start < names.length; start += DELETE_BATCH) {
      const batch = names.slice(start, start + DELETE_BATCH);
      let response;
      try {
        response = await this.limit(() =>
          this.client.send(
            new DeleteObjectsCommand({
              Bucket: this.bucketLocation.bucket,
              Delete: { Objects: batch.map((name) => ({ Key: this.key(name) })), Quiet: true },
            }),
          ),
        );
      } catch (error) {
        throw this.fail(error, 'delete', batch[0]!);
      }
      const failed = (response.Errors ?? []).filter((entry) => entry.Code !== 'NoSuchKey');
      if (failed.length > 0)
        throw new UcvmError(
          'STORAGE_IO',
          `cannot delete ${failed.length} objects of ${this.location}: ${failed[0]!.Code ?? 'error'}`,
          { details: `First: ${failed[0]!.Key ?? '?'}: ${failed[0]!.Message ?? ''}` },
        );
    }
  }

  async *list(): AsyncGenerator<{ name: string; size: number }> {
    yield* this.listUnder('data/');
  }

  private async *listUnder(folder: string): AsyncGenerator<{ name: string; size: number }> {
    const prefix = this.key(folder);
    try {
      for await (const page of paginateListObjectsV2(
        { client: this.client, pageSize: 1000 },
        { Bucket: this.bucketLocation.bucket, Prefix: prefix },
      ))
        for (const entry of page.Contents ?? [])
          if (entry.Key !== undefined)
            yield {
              name: entry.Key.slice(this.bucketLocation.prefix.length),
              size: entry.Size ?? 0,
            };
    } catch (error) {
      throw this.fail(error, 'list', folder);
    }
  }

  /** An object store's write is durable once acknowledged. */
  async flush(): Promise<void> {}

  async lock(request: LockRequest): Promise<WriterLock> {
    await this.prepare();
    const lease = await acquireLease(this.client, this.bucketLocation, request, this.options.lease);
    this.lease = lease;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucketLocation.bucket, Key: this.key(MANIFEST) }),
      );
      this.manifestVersion = head.ETag ?? undefined;
    } catch (error) {
      if (!isNotFound(error)) {
        await lease.release();
        this.lease = undefined;
        throw this.fail(error, 'look up', MANIFEST);
      }
      this.manifestVersion = null;
    }
    return {
      release: async () => {
        this.lease = undefined;
        this.manifestVersion = undefined;
        await lease.release();
      },
    };
  }

  /** A killed writer leaves unfinished multipart uploads (billed until aborted); its whole objects are for gc. */
  async cleanup(): Promise<number> {
    let aborted = 0;
    try {
      const response = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucketLocation.bucket,
          Prefix: this.key('data/'),
        }),
      );
      for (const upload of response.Uploads ?? []) {
        await this.client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucketLocation.bucket,
            Key: upload.Key!,
            UploadId: upload.UploadId!,
          }),
        );
        aborted++;
      }
    } catch (error) {
      // Not every store lists uploads; what is left costs space, never correctness.
      if (statusOf(error) !== 501 && statusOf(error) !== 404 && statusOf(error) !== 405)
        throw this.fail(error, 'clean up the uploads under', 'data/');
    }
    return aborted;
  }

  workerTarget(): WorkerTarget | undefined {
    return undefined;
  }
}
