import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
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

/**
 * A static HTTP server for repositories, as a stock stratum 0's Apache serves them: bytes
 * untouched (no content encoding), short cache lifetime for the manifest and whitelist, long
 * for immutable objects. For tests and demos; binds to 127.0.0.1 by default.
 */
export async function serveRepositories(options: ServeOptions): Promise<RunningServer> {
  const roots = new Map([...options.repositories].map(([fqrn, dir]) => [fqrn, resolve(dir)]));
  const server: Server = createServer((request, response) => {
    const done = (status: number): void =>
      options.onRequest?.(request.method ?? '', request.url ?? '', status);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const match = /^\/cvmfs\/([^/]+)\/(.+)$/.exec(decodeURIComponent(url.pathname));
    const root = match === null ? undefined : roots.get(match[1]!);
    const relative = match?.[2] ?? '';
    if (
      (request.method !== 'GET' && request.method !== 'HEAD') ||
      root === undefined ||
      !servable.test(relative)
    ) {
      response.writeHead(404).end();
      done(404);
      return;
    }
    const file = join(root, relative);
    stat(file).then(
      (stats) => {
        response.writeHead(200, {
          'content-type': relative.startsWith('.cvmfs')
            ? 'application/x-cvmfs'
            : 'application/octet-stream',
          'content-length': stats.size,
          'cache-control': relative.startsWith('data/') ? 'max-age=259200' : 'max-age=61',
        });
        if (request.method === 'HEAD') {
          response.end();
        } else {
          createReadStream(file).pipe(response);
        }
        done(200);
      },
      () => {
        response.writeHead(404).end();
        done(404);
      },
    );
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UcvmError(
          'HTTP_FAILED',
          `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 0}: ${error.code ?? error.message}`,
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
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolvePromise);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host}:${port}/cvmfs`,
    port,
    close: () => new Promise((resolveClose) => server.close(() => resolveClose())),
  };
}
