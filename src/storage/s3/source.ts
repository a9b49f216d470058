import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { bodySource, tooLarge, type ReadOptions, type RepoSource } from '../../reader/source.js';
import { READ_LIMITS } from '../../reader/limits.js';
import { isNotFound, s3Error } from './errors.js';
import { formatS3Location, type S3Location } from './location.js';

/**
 * A repository in a bucket, read through the S3 API with the store's credentials (a bucket
 * need not be public for its publisher). Bounded like every read: the declared length is
 * checked before the body is read, and the body is cut off at the limit whatever it declared.
 */
export function s3Source(client: S3Client, location: S3Location): RepoSource {
  const base = formatS3Location(location);
  const keyOf = (relative: string): string => `${location.prefix}${relative}`;
  async function get(
    relative: string,
    options: ReadOptions,
  ): Promise<AsyncIterable<Buffer> | undefined> {
    const limit = options.maxBytes ?? READ_LIMITS.defaultBytes;
    const key = keyOf(relative);
    let body: Readable;
    try {
      const response = await client.send(
        new GetObjectCommand({ Bucket: location.bucket, Key: key }),
      );
      body = response.Body as Readable;
      if ((response.ContentLength ?? 0) > limit) {
        body.destroy();
        throw tooLarge(`${base}/${relative}`, response.ContentLength!, limit);
      }
    } catch (error) {
      if (isNotFound(error)) {
        return undefined;
      }
      throw s3Error(error, 'read', location.bucket, key);
    }
    return bounded(body, limit, `${base}/${relative}`);
  }
  async function has(relative: string): Promise<boolean> {
    try {
      await client.send(new HeadObjectCommand({ Bucket: location.bucket, Key: keyOf(relative) }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw s3Error(error, 'look up', location.bucket, keyOf(relative));
    }
  }
  return bodySource(base, get, has);
}

async function* bounded(body: Readable, limit: number, where: string): AsyncGenerator<Buffer> {
  let seen = 0;
  try {
    for await (const piece of body as AsyncIterable<Buffer>) {
      seen += piece.length;
      if (seen > limit) throw tooLarge(where, seen, limit);
      yield piece;
    }
  } finally {
    body.destroy();
  }
}
