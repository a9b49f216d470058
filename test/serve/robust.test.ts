import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { serveRepositories, type ServeOptions } from '../../src/serve/index.js';
import { tmpdir } from '../helpers/tmp.js';

const fqrn = 'test.example.org';
const object = `data/ab/${'c'.repeat(38)}`;
const other = `data/cd/${'e'.repeat(38)}C`;

/** A storage directory with a manifest and two objects, beside a directory "outside" it. */
async function storage(): Promise<{ dir: string; outside: string; files: Map<string, Buffer> }> {
  const base = await tmpdir();
  const dir = path.join(base, 'srv', fqrn);
  const outside = path.join(base, 'outside');
  const files = new Map<string, Buffer>([
    ['.cvmfspublished', Buffer.from('Cabc\nRdef\n--\nsignature')],
    [object, randomBytes(100_000)],
    [other, randomBytes(1000)],
  ]);
  for (const [relative, content] of files) {
    mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
    writeFileSync(path.join(dir, relative), content);
  }
  mkdirSync(path.join(outside, 'ab'), { recursive: true });
  writeFileSync(path.join(outside, 'secret'), 'outside secret');
  writeFileSync(path.join(outside, 'ab', 'f'.repeat(38)), 'outside secret');
  return { dir, outside, files };
}

async function serve(
  dir: string,
  more: Partial<ServeOptions> = {},
): Promise<{ url: string; port: number; errors: unknown[] }> {
  const errors: unknown[] = [];
  const server = await serveRepositories({
    repositories: new Map([[fqrn, dir]]),
    onError: (error) => errors.push(error),
    ...more,
  });
  onTestFinished(() => server.close());
  return { url: `${server.url}/${fqrn}`, port: server.port, errors };
}

/** Sends `text` as is on a fresh connection; resolves with everything the server sent back. */
function raw(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
    socket.write(text);
  });
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1]);
}

/** A normal GET still answers with the manifest's bytes. */
async function stillServes(url: string, files: Map<string, Buffer>): Promise<void> {
  const response = await fetch(`${url}/.cvmfspublished`);
  expect(response.status).toBe(200);
  expect(Buffer.from(await response.arrayBuffer())).toEqual(files.get('.cvmfspublished'));
}

describe('repo serve survives bad requests', () => {
  it('serves objects and the manifest byte for byte, HEAD with the size', async () => {
    const { dir, files } = await storage();
    const { url } = await serve(dir);
    for (const [relative, content] of files) {
      const response = await fetch(`${url}/${relative}`);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(content);
      const head = await fetch(`${url}/${relative}`, { method: 'HEAD' });
      expect(head.headers.get('content-length')).toBe(String(content.length));
    }
  });

  it('answers malformed percent-encoding with 400 and keeps serving', async () => {
    const { dir, files } = await storage();
    const { url, port } = await serve(dir);
    for (const target of [
      `/cvmfs/${fqrn}/%E0%A4%A`,
      `/cvmfs/${fqrn}/%zz`,
      `/cvmfs/${fqrn}/data/ab/%`,
      `/cvmfs/%C0%80/.cvmfspublished`,
    ]) {
      const response = await raw(
        port,
        `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      );
      expect(statusOf(response), target).toBe(400);
      await stillServes(url, files);
    }
    // Garbage that is not HTTP at all is the HTTP parser's 400.
    expect(statusOf(await raw(port, 'HELLO\r\n\r\n'))).toBe(400);
    await stillServes(url, files);
  });

  it('answers other methods with 405 and Allow: GET, HEAD', async () => {
    const { dir, files } = await storage();
    const { url, port } = await serve(dir);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const response = await fetch(`${url}/.cvmfspublished`, {
        method,
        ...(method !== 'OPTIONS' && { body: 'x' }),
      });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
      await stillServes(url, files);
    }
    const rawResponse = await raw(
      port,
      `BREW /cvmfs/${fqrn}/.cvmfspublished HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(rawResponse)).toBeGreaterThanOrEqual(400);
    expect(statusOf(rawResponse)).toBeLessThan(500);
    await stillServes(url, files);
  });

  it('refuses a directory or a FIFO where an object should be', async () => {
    const { dir, files } = await storage();
    const { url } = await serve(dir);
    const directory = `data/ab/${'d'.repeat(38)}`;
    mkdirSync(path.join(dir, directory));
    expect((await fetch(`${url}/${directory}`)).status).toBe(404);
    expect((await fetch(`${url}/${directory}`, { method: 'HEAD' })).status).toBe(404);
    const fifo = `data/ab/${'e'.repeat(38)}`;
    execFileSync('mkfifo', [path.join(dir, fifo)]);
    expect((await fetch(`${url}/${fifo}`)).status).toBe(404);
    await stillServes(url, files);
  });

  it('serves an object removed while being served from the opened file', async () => {
    const { dir, files } = await storage();
    // The hook runs once the server decided to answer 200, as a concurrent gc could.
    const { url, errors } = await serve(dir, {
      onRequest: (_method, target, status) => {
        if (status === 200 && target.endsWith(object)) unlinkSync(path.join(dir, object));
      },
    });
    const response = await fetch(`${url}/${object}`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(files.get(object));
    expect((await fetch(`${url}/${object}`)).status).toBe(404);
    expect(errors).toEqual([]);
    await stillServes(url, files);
  });

  it('cuts the response of an object truncated while being served, and keeps serving', async () => {
    const { dir, files } = await storage();
    const { url, errors } = await serve(dir, {
      onRequest: (_method, target, status) => {
        if (status === 200 && target.endsWith(object)) truncateSync(path.join(dir, object), 10);
      },
    });
    await expect(
      fetch(`${url}/${object}`).then((response) => response.arrayBuffer()),
    ).rejects.toThrow();
    expect(String(errors[0])).toContain('shrank');
    await stillServes(url, files);
  });

  it('does not follow a symlink out of the storage', async () => {
    const { dir, outside, files } = await storage();
    const { url } = await serve(dir);
    // A symlinked object, a symlinked manifest, and a symlinked data/xx directory.
    const linkedObject = `data/ab/${'a'.repeat(38)}`;
    symlinkSync(path.join(outside, 'secret'), path.join(dir, linkedObject));
    rmSync(path.join(dir, '.cvmfspublished'));
    symlinkSync(path.join(outside, 'secret'), path.join(dir, '.cvmfspublished'));
    symlinkSync(path.join(outside, 'ab'), path.join(dir, 'data', 'ef'));
    for (const relative of [linkedObject, '.cvmfspublished', `data/ef/${'f'.repeat(38)}`]) {
      for (const method of ['GET', 'HEAD']) {
        const response = await fetch(`${url}/${relative}`, { method });
        expect([403, 404], `${method} ${relative}`).toContain(response.status);
        expect(await response.text()).not.toContain('secret');
      }
    }
    const response = await fetch(`${url}/${other}`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(files.get(other));
  });

  it('serves a storage directory that is itself reached through a symlink', async () => {
    const { dir, files } = await storage();
    const link = path.join(path.dirname(dir), 'link');
    symlinkSync(dir, link);
    const { url } = await serve(link);
    const response = await fetch(`${url}/${object}`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(files.get(object));
  });

  it('drops a client that does not finish its request headers', async () => {
    const { dir, files } = await storage();
    const { url, port } = await serve(dir, { timeouts: { headers: 200, request: 200 } });
    const response = await raw(port, `GET /cvmfs/${fqrn}/.cvmfspublished HTTP/1.1\r\nHost: x\r\n`);
    expect(statusOf(response)).toBe(408);
    await stillServes(url, files);
  });

  it('drops a client that stops reading', async () => {
    const { dir, files } = await storage();
    const big = `data/ab/${'b'.repeat(38)}`;
    writeFileSync(path.join(dir, big), Buffer.alloc(64 << 20));
    let stalled: (error: unknown) => void = () => undefined;
    const gaveUp = new Promise<unknown>((resolve) => (stalled = resolve));
    const { url, port } = await serve(dir, { timeouts: { idle: 200 }, onError: stalled });
    const socket = connect(port, '127.0.0.1');
    onTestFinished(() => void socket.destroy());
    socket.pause();
    socket.write(`GET /cvmfs/${fqrn}/${big} HTTP/1.1\r\nHost: x\r\n\r\n`);
    // The server gives up on the stalled response (its socket timed out) and reports it.
    expect(String(await gaveUp)).toMatch(/close|abort/i);
    await stillServes(url, files);
  });
});

async function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

describe('repo serve on IPv6', () => {
  it('prints the URL with the address in brackets', async (context) => {
    if (!(await ipv6Loopback())) {
      console.log('skipped: this machine cannot listen on the IPv6 loopback ::1');
      context.skip();
    }
    const { dir, files } = await storage();
    for (const host of ['::1', '[::1]']) {
      const server = await serveRepositories({ repositories: new Map([[fqrn, dir]]), host });
      onTestFinished(() => server.close());
      expect(server.url).toBe(`http://[::1]:${server.port}/cvmfs`);
      await stillServes(`${server.url}/${fqrn}`, files);
    }
  });
});
