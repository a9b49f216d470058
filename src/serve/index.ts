import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UcvmError } from '../errors.js';
import { openInside } from './open.js';

export interface ServeTimeouts {
  /** Time a client has to send the request headers, in milliseconds. */
  headers: number;
  /** Time a client has to send the whole request, in milliseconds. */
  request: number;
  /** Time a connection may stay without any traffic (e.g. a client that stops reading). */
  idle: number;
}

export interface ServeOptions {
  /** fqrn → storage directory. Each is served at `/cvmfs/<fqrn>/`. */
  repositories: ReadonlyMap<string, string>;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /**
   * Called for every request (method, path, status) once its status is decided, before a body
   * is sent; e.g. to log or count.
   */
  onRequest?: (method: string, path: string, status: number) => void;
  /** Called for an I/O error answered with 500 or a response cut short, e.g. to log it. */
  onError?: (error: unknown) => void;
  timeouts?: Partial<ServeTimeouts>;
  /**
   * Cache lifetime, in seconds, of what changes with a publish (`.cvmfspublished`,
   * `.cvmfswhitelist`, the shelf's index): how long a site proxy may serve the previous
   * revision. Default 61, as a stock stratum 0's Apache configuration says.
   */
  mutableMaxAge?: number;
}

/** Content-addressed files never change: proxies may keep them for days (as cvmfs_server's Apache says). */
const IMMUTABLE_MAX_AGE = 259200;
const immutable = /^(?:data\/|exports\/[0-9a-f]{40,}\.squashfs$)/;

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const defaultTimeouts: ServeTimeouts = { headers: 10_000, request: 30_000, idle: 60_000 };

// Only what a client may fetch: never the lock, temporaries, or anything else in the directory;
// and the shelf of squashfs exports (src/export/shelf.ts) for boots without a client.
const servable =
  /^(?:\.cvmfspublished|\.cvmfswhitelist|\.cvmfs_master_replica|\.cvmfsreflog|data\/[0-9a-f]{2}\/[0-9a-f]{38}(?:-rmd160|-shake128)?[PCHXM]?|exports\/(?:tags|[0-9a-f]{40,}\.squashfs))$/;

/** The decoded path of a request target (origin or absolute form), or undefined if malformed. */
function requestPath(target: string): string | undefined {
  let pathname: string;
  if (target.startsWith('/')) {
    pathname = target.replace(/[?#][^]*$/, '');
  } else {
    try {
      pathname = new URL(target).pathname;
    } catch {
      return undefined;
    }
  }
  try {
    return decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
}

/** `host` as it goes into a URL: IPv6 addresses in brackets. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Fails if the file yields fewer than `size` bytes (shrank while being served). */
function exactly(size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      callback(seen === size ? null : new Error('file shrank while being served'));
    },
  });
}

/**
 * A static HTTP server for repositories, as a stock stratum 0's Apache serves them: bytes
 * untouched (no content encoding), short cache lifetime for the manifest and whitelist, long
 * for immutable objects. For tests and demos; binds to 127.0.0.1 by default. Every bad request
 * gets a 4xx and every I/O error a 5xx (or a cut connection once the headers are out); nothing
 * a client sends stops the server.
 */
export async function serveRepositories(options: ServeOptions): Promise<RunningServer> {
  const roots = new Map([...options.repositories].map(([fqrn, dir]) => [fqrn, resolve(dir)]));
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  const onError = options.onError ?? (() => undefined);
  const mutableMaxAge = options.mutableMaxAge ?? 61;

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const done = (status: number): void =>
      options.onRequest?.(request.method ?? '', request.url ?? '', status);
    const reply = (status: number, headers: Record<string, string> = {}): void => {
      response.writeHead(status, headers).end();
      done(status);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply(405, { allow: 'GET, HEAD' });
      return;
    }
    const path = requestPath(request.url ?? '');
    if (path === undefined) {
      reply(400);
      return;
    }
    const match = /^\/cvmfs\/([^/]+)\/(.+)$/.exec(path);
    const root = match === null ? undefined : roots.get(match[1]!);
    const relative = match?.[2] ?? '';
    if (root === undefined || !servable.test(relative)) {
      reply(404);
      return;
    }
    const opened = await openInside(root, relative);
    if (opened.kind === 'refused') {
      reply(opened.status);
      return;
    }
    const { handle, size } = opened;
    try {
      response.writeHead(200, {
        'content-type': relative.startsWith('.cvmfs')
          ? 'application/x-cvmfs'
          : 'application/octet-stream',
        'content-length': String(size),
        'cache-control': `max-age=${immutable.test(relative) ? IMMUTABLE_MAX_AGE : mutableMaxAge}`,
      });
      done(200);
    } catch (error) {
      await handle.close();
      throw error;
    }
    if (request.method === 'HEAD' || size === 0) {
      await handle.close();
      response.end();
      return;
    }
    // Bounded by the size in the headers: a file that grows meanwhile still yields exactly that.
    await pipeline(handle.createReadStream({ start: 0, end: size - 1 }), exactly(size), response);
  }

  const headersTimeout = Math.min(timeouts.headers, timeouts.request);
  const server: Server = createServer(
    {
      headersTimeout,
      requestTimeout: timeouts.request,
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    (request, response) => {
      answer(request, response).catch((error: unknown) => {
        onError(error);
        if (!response.headersSent) {
          response.writeHead(500).end();
          options.onRequest?.(request.method ?? '', request.url ?? '', 500);
        } else {
          response.destroy();
        }
      });
    },
  );
  server.timeout = timeouts.idle;

  const host = (options.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UcvmError(
          'HTTP_FAILED',
          `cannot listen on ${urlHost(host)}:${options.port ?? 0}: ${error.code ?? error.message}`,
          {
            details:
              error.code === 'EADDRINUSE'
                ? 'Another program uses that port; pick another with --port (0 picks a free one).'
                : undefined,
            cause: error,
          },
        ),
      ),
    );
    server.listen(options.port ?? 0, host, resolvePromise);
  });
  // Past listening, an error (e.g. too many open files on accept) must not end the process.
  server.on('error', onError);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${urlHost(host)}:${port}/cvmfs`,
    port,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
