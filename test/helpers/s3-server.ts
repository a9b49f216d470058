import { S3Client } from '@aws-sdk/client-s3';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import type { S3StorageOptions } from '../../src/storage/s3/storage.js';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** s3rver's one account. It checks the access key id (not a v4 signature). */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`: the S3 endpoint, and (path style) `…/<bucket>/<key>` for anonymous reads. */
  endpoint: string;
  port: number;
  /** Every request: method, path (with query), status. */
  requests: Array<{ method: string; path: string; status: number }>;
  /** Connection settings for S3Storage (path style, fast retries). */
  connection(overrides?: Partial<S3StorageOptions>): S3StorageOptions;
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  close(): Promise<void>;
}

interface KoaContext {
  method: string;
  path: string;
  url: string;
  querystring: string;
  status: number;
  body: unknown;
  headers: Record<string, string | undefined>;
  set(name: string, value: string): void;
  /** Node's response: 'close' once it is sent, or once its connection is gone. */
  res: { once(event: 'close', listener: () => void): void };
  store: {
    getObject(
      bucket: string,
      key: string,
    ): Promise<{ metadata: Record<string, string>; content?: { destroy(): void } } | null>;
  };
}
type Next = () => Promise<void>;

interface PutStore {
  putObject(object: {
    bucket: string;
    key: string;
    content: unknown;
    metadata: Record<string, string>;
  }): Promise<{ size: number; md5: string }>;
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5: string,
  ): Promise<void>;
}

/** The whole body of a request, or a rejection if the writer went away before sending it all. */
function wholeBody(request: NodeJS.ReadableStream & { complete?: boolean }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () =>
      request.complete === false
        ? reject(new Error('the writer went away mid-body'))
        : resolve(Buffer.concat(chunks)),
    );
    request.once('error', reject);
    request.once('close', () => reject(new Error('the writer went away mid-body')));
  });
}

let temporaries = 0;

/**
 * S3 stores an object whole or not at all, and a read sees one version whole. s3rver streams a
 * PUT's body straight into the object's file, in place, and answers before the file is written:
 * a writer killed mid-body would leave a piece of it there (or hold the key for ever), and a
 * read right after a PUT could find the file empty. Here a body is read whole first (a cut one
 * is refused), written to a temporary file and renamed over the object's before the PUT is
 * answered: a read sees the old bytes or the new ones.
 */
function atomicPuts(store: PutStore): void {
  store.putObject = async (object) => {
    const content = Buffer.isBuffer(object.content)
      ? object.content
      : object.content === undefined
        ? Buffer.alloc(0)
        : await wholeBody(object.content as NodeJS.ReadableStream);
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(path.dirname(objectPath), { recursive: true });
    const temporary = `${objectPath}.${process.pid}.${++temporaries}.writing`;
    await writeFile(temporary, content);
    await rename(temporary, objectPath);
    const md5 = createHash('md5').update(content).digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };
}

/**
 * A real S3 protocol server on 127.0.0.1 (the npm package s3rver, its objects in a temp
 * directory). s3rver honours conditions only on reads; AWS S3 (and this helper, in front of
 * s3rver) also honours them on writes: `If-None-Match: *` and `If-Match: <etag>` on PUT, which
 * ucvm's lease and commit rely on. Writes to one key are serialised here, so two racing
 * conditional writers see what they would see on S3: one 200, one 412.
 */
export async function startS3Server(): Promise<S3TestServer> {
  // Not helpers/tmp.ts (it needs vitest): the benchmark runs this server too.
  const directory = await mkdtemp(path.join(os.tmpdir(), 'ucvm-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const requests: S3TestServer['requests'] = [];
  const busy = new Map<string, Promise<void>>();

  const conditional = async (ctx: KoaContext, next: Next): Promise<void> => {
    const ifNoneMatch = ctx.headers['if-none-match'];
    const ifMatch = ctx.headers['if-match'];
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    const isWrite = ctx.method === 'PUT' && !/(^|&)(partNumber|uploadId)=/.test(ctx.querystring);
    if (!isWrite || match === null) return next();
    const [, bucket, key] = match as unknown as [string, string, string];
    const id = `${bucket}/${decodeURIComponent(key)}`;
    // Every write of a key waits for the one before: a conditional write's check and its write
    // are then one step, as on S3, with no other write landing between them.
    while (busy.has(id)) await busy.get(id);
    let done!: () => void;
    busy.set(id, new Promise<void>((resolve) => (done = resolve)));
    try {
      const object =
        ifNoneMatch === undefined && ifMatch === undefined
          ? undefined
          : await ctx.store.getObject(bucket, decodeURIComponent(key));
      object?.content?.destroy();
      const etag = object?.metadata['etag'];
      const failed =
        object !== undefined &&
        ((ifNoneMatch === '*' && object !== null) ||
          (ifMatch !== undefined && (object === null || (ifMatch !== '*' && ifMatch !== etag))));
      if (failed) {
        ctx.status = 412;
        ctx.set('content-type', 'application/xml');
        ctx.body =
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>';
        return;
      }
      // A writer killed mid-body never finishes its request: the key is freed once its
      // connection is gone (atomicPuts stores nothing of it), not held for ever.
      const gone = new Promise<void>((resolve) => ctx.res.once('close', () => resolve()));
      await Promise.race([next(), gone]);
    } finally {
      busy.delete(id);
      done();
    }
  };
  const record = async (ctx: KoaContext, next: Next): Promise<void> => {
    try {
      await next();
    } finally {
      requests.push({ method: ctx.method, path: ctx.url, status: ctx.status });
    }
  };
  // Koa composes its middleware when it starts listening: these run before s3rver's own.
  const app = server as unknown as { middleware: unknown[] };
  app.middleware.unshift(record, conditional);
  const { port } = await server.run();
  atomicPuts((server as unknown as { store: PutStore }).store);
  const endpoint = `http://127.0.0.1:${port}`;
  const connection = (overrides: Partial<S3StorageOptions> = {}): S3StorageOptions => ({
    endpoint,
    region: 'us-east-1',
    pathStyle: true,
    credentials: { ...S3_CREDENTIALS },
    maxAttempts: 3,
    ...overrides,
  });
  const client = (): S3Client =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...S3_CREDENTIALS },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  return {
    endpoint,
    port,
    requests,
    connection,
    client,
    async createBucket(name) {
      await (
        server as unknown as { store: { putBucket(name: string): Promise<void> } }
      ).store.putBucket(name);
    },
    async close() {
      const http = server as unknown as {
        close(): Promise<void>;
        httpServer?: { closeAllConnections(): void };
      };
      const closed = http.close();
      // Kept-alive connections (a client left renewing a lease after a failed test) would hold
      // the close for ever.
      http.httpServer?.closeAllConnections();
      await closed;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface FaultyProxy {
  endpoint: string;
  /** From now on, answer writes (PUT, POST, DELETE) with 500 after `after` more have passed. */
  failWritesAfter(after: number): void;
  /** Writes that reached the store, and writes refused. */
  counts(): { passed: number; refused: number };
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a store that, once told, starts answering writes with
 * 500 InternalError: a bucket that refuses writes halfway through a publish.
 */
export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const { createServer, request: forward } = await import('node:http');
  const upstream = new URL(target);
  let budget = Infinity;
  let passed = 0;
  let refused = 0;
  const server = createServer((request, response) => {
    const write = request.method !== 'GET' && request.method !== 'HEAD';
    if (write && budget <= 0) {
      refused++;
      request.resume();
      response
        .writeHead(500, { 'content-type': 'application/xml' })
        .end(
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>',
        );
      return;
    }
    if (write) {
      budget--;
      passed++;
    }
    const out = forward(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    out.on('error', () => response.destroy());
    request.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failWritesAfter(after) {
      budget = after;
    },
    counts: () => ({ passed, refused }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The same server in a child process, for a test that reads a FUSE mount synchronously while
 * the client fetches from the server (in this process, it could not answer). Runs the built
 * helper (dist/, which `npm test` builds first); buckets are made through the S3 API.
 */
export async function startS3ServerInChild(
  buckets: readonly string[],
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const built = path.resolve(import.meta.dirname, '../../dist/test/helpers/s3-server.js');
  const script = `const { startS3Server } = await import(${JSON.stringify(built)});
const server = await startS3Server();
process.stdout.write(JSON.stringify({ endpoint: server.endpoint }) + '\\n');
process.stdin.resume();
process.stdin.on('end', () => server.close().then(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve((JSON.parse(out) as { endpoint: string }).endpoint);
    });
    child.once('exit', (code) => reject(new Error(`the S3 server exited (${code})`)));
  });
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...S3_CREDENTIALS },
  });
  for (const Bucket of buckets) await client.send(new CreateBucketCommand({ Bucket }));
  return {
    endpoint,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}
