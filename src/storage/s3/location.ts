import { UcvmError } from '../../errors.js';

/** A repository in a bucket: `s3://<bucket>/<prefix>`, the prefix ending in the repository name. */
export interface S3Location {
  bucket: string;
  /** The key prefix of the repository's files: empty, or ending in `/`. */
  prefix: string;
}

/** How to reach the object store (pipeline.yaml `s3:`, or the CLI's `--s3-*` options). */
export interface S3Connection {
  /** e.g. `https://s3.example.org` or `http://127.0.0.1:9000`; default: AWS for the region. */
  endpoint?: string;
  region?: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (most non-AWS stores). */
  pathStyle?: boolean;
  /** Explicit credentials; without them, the standard AWS chain (environment, profile, role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  /** Attempts per request, retries with backoff on 5xx, throttling and cut connections (default 5). */
  maxAttempts?: number;
}

/** The lease's key under the repository's prefix: not a repository file, never read by clients. */
export const LEASE_NAME = '.ucvm-lease';

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isS3Location(location: string): boolean {
  return location.startsWith('s3://');
}

export function parseS3Location(location: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(location);
  const bucket = match?.[1] ?? '';
  const prefix = (match?.[2] ?? '').replace(/\/+$/, '');
  const problem =
    match === null
      ? 'not of the form s3://<bucket>/<prefix>'
      : !BUCKET.test(bucket)
        ? `the bucket name ${JSON.stringify(bucket)} is not a valid S3 bucket name`
        : prefix !== '' && prefix.split('/').some((part) => ['', '.', '..'].includes(part))
          ? `the prefix ${JSON.stringify(prefix)} has an empty, . or .. component`
          : undefined;
  if (problem !== undefined)
    throw new UcvmError('USAGE', `${JSON.stringify(location)}: ${problem}`, {
      details:
        'A repository in a bucket is named s3://<bucket>/<prefix>, e.g. s3://stratum0/cvmfs/os.example.org.',
    });
  return { bucket, prefix: prefix === '' ? '' : `${prefix}/` };
}

/** The repository name a bucket location implies: the prefix's last component, or the bucket's name. */
export function fqrnOfS3Location(location: S3Location): string {
  const trimmed = location.prefix.replace(/\/$/, '');
  return trimmed === '' ? location.bucket : trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

export function formatS3Location(location: S3Location): string {
  return `s3://${location.bucket}/${location.prefix}`.replace(/\/$/, '');
}
