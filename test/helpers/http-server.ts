import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import path from 'node:path';

export interface StaticServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  /** Request paths in arrival order, e.g. `/dists/stable/InRelease`. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `dir` read-only over HTTP on 127.0.0.1 with a free port: files as stored (no
 * content-encoding), 404 for anything missing or outside `dir`.
 */
export async function serveDirectory(dir: string): Promise<StaticServer> {
  const root = path.resolve(dir);
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const urlPath = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    requests.push(urlPath);
    const file = path.resolve(root, `.${urlPath}`);
    const notFound = (): void => {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405).end();
      return;
    }
    if (file !== root && !file.startsWith(`${root}${path.sep}`)) {
      notFound();
      return;
    }
    stat(file).then((info) => {
      if (!info.isFile()) {
        notFound();
        return;
      }
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': info.size,
      });
      if (request.method === 'HEAD') response.end();
      else createReadStream(file).pipe(response);
    }, notFound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      }),
  };
}

/** A URL on 127.0.0.1 that accepts connections and never sends a byte; closed when the test finishes. */
export async function silentServer(): Promise<string> {
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
