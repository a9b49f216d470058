import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UcvmError } from '../errors.js';

export interface ServeOptions {
  /** fqrn → storage directory. Each is served at `/cvmfs/<fqrn>/`. */
  repositories: ReadonlyMap<string, string>;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Called for every request (method, path, status), e.g. to log or count. */
  onRequest?: (method: string, path: string, status: number) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

// Only what a client may fetch: never the lock, temporaries, or anything else in the directory.
const servable =
  /^(?:\.cvmfspublished|\.cvmfswhitelist|\.cvmfs_master_replica|\.cvmfsreflog|data\/[0-9a-f]{2}\/[0-9a-f]{38}(?:-rmd160|-shake128)?[PCHXM]?)$/;

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The storage file a request names; refusals carry the status to answer with. */
async function resolveRequest(
  request: IncomingMessage,
  roots: ReadonlyMap<string, string>,
): Promise<{ file: string; relative: string }> {
  if (request.method !== 'GET' && request.method !== 'HEAD')
    throw new HttpRefusal(405, 'only GET and HEAD');
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
  } catch {
    throw new HttpRefusal(400, 'malformed URL');
  }
  const match = /^\/cvmfs\/([^/]+)\/(.+)$/.exec(pathname);
  const root = match === null ? undefined : roots.get(match[1]!);
  const relative = match?.[2] ?? '';
  if (root === undefined || !servable.test(relative)) throw new HttpRefusal(404, 'not found');
  const file = join(root, relative);
  // The directories on the way must resolve inside the storage: a symlinked data/xx that
  // points elsewhere is not followed out of it.
  const parent = await realpath(dirname(file)).catch(() => undefined);
  if (parent === undefined) throw new HttpRefusal(404, 'not found');
  const realRoot = await realpath(root).catch(() => undefined);
  if (realRoot === undefined || (parent !== realRoot && !parent.startsWith(realRoot + sep)))
    throw new HttpRefusal(404, 'not found');
  return { file, relative };
}

/** Opens the file without following a final symlink; only regular files are served. */
async function openServable(file: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR')
      throw new HttpRefusal(404, 'not found');
    throw error;
  }
  const stats = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!stats.isFile()) {
    await handle.close();
    throw new HttpRefusal(404, 'not found');
  }
  return { handle, size: stats.size };
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  roots: ReadonlyMap<string, string>,
): Promise<number> {
  try {
    const { file, relative } = await resolveRequest(request, roots);
    const { handle, size } = await openServable(file);
    try {
      response.writeHead(200, {
        'content-type': relative.startsWith('.cvmfs')
          ? 'application/x-cvmfs'
          : 'application/octet-stream',
        'content-length': size,
        'cache-control': relative.startsWith('data/') ? 'max-age=259200' : 'max-age=61',
      });
      if (request.method === 'HEAD') response.end();
      else
        await pipeline(
          handle.createReadStream({ start: 0, end: Math.max(0, size - 1), autoClose: false }),
          response,
        );
    } finally {
      await handle.close();
    }
    return 200;
  } catch (error) {
    const status = error instanceof HttpRefusal ? error.status : 500;
    if (response.headersSent) {
      // Too late for a status: cut the body short, so the client sees a failed transfer.
      response.destroy();
    } else {
      response.writeHead(status, {
        'content-type': 'text/plain',
        ...(status === 405 && { allow: 'GET, HEAD' }),
      });
      response.end(status === 500 ? 'internal error\n' : `${(error as Error).message}\n`);
    }
    return status;
  }
}

/** `http://host:port/cvmfs`, with an IPv6 address in brackets. */
function baseUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/cvmfs`;
}

/**
 * A static HTTP server for repositories, as a stock stratum 0's Apache serves them: bytes
 * untouched (no content encoding), short cache lifetime for the manifest and whitelist, long
 * for immutable objects. For tests and demos; binds to 127.0.0.1 by default. A bad request
 * gets a 4xx, an I/O error a 5xx, and the server keeps serving.
 */
export async function serveRepositories(options: ServeOptions): Promise<RunningServer> {
  const roots = new Map([...options.repositories].map(([fqrn, dir]) => [fqrn, resolve(dir)]));
  const server: Server = createServer((request, response) => {
    void answer(request, response, roots).then((status) =>
      options.onRequest?.(request.method ?? '', request.url ?? '', status),
    );
  });
  // Slow or silent clients do not hold sockets forever.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UcvmError(
          'HTTP_FAILED',
          `cannot listen on ${host}:${options.port ?? 0}: ${error.code ?? error.message}`,
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
  const { port } = server.address() as AddressInfo;
  return {
    url: baseUrl(host, port),
    port,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
