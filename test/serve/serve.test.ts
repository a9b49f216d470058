import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { serveRepositories, type RunningServer } from '../../src/serve/index.js';
import { tmpdir } from '../helpers/tmp.js';

const OBJECT = `data/ab/${'c'.repeat(38)}`;

async function served(): Promise<{ server: RunningServer; root: string; base: string }> {
  const base = await tmpdir();
  const root = path.join(base, 'srv', 's.example.org');
  mkdirSync(path.join(root, 'data', 'ab'), { recursive: true });
  writeFileSync(path.join(root, '.cvmfspublished'), 'manifest\n');
  writeFileSync(path.join(root, OBJECT), 'object bytes');
  const server = await serveRepositories({ repositories: new Map([['s.example.org', root]]) });
  onTestFinished(() => server.close());
  return { server, root, base };
}

/** A request as raw bytes on a socket: the status line of the answer. */
function rawStatus(server: RunningServer, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer.split('\r\n')[0]!));
    socket.on('error', reject);
    socket.write(`${requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

async function stillServes(server: RunningServer): Promise<void> {
  const response = await fetch(`${server.url}/s.example.org/.cvmfspublished`);
  expect(response.status).toBe(200);
  expect(await response.text()).toBe('manifest\n');
}

describe('ucvm repo serve', () => {
  it('answers a malformed percent-encoding with 400 and keeps serving', async () => {
    const { server } = await served();
    expect(await rawStatus(server, 'GET /cvmfs/s.example.org/%E0%A4%A HTTP/1.1')).toMatch(/ 400 /);
    expect(await rawStatus(server, 'GET /cvmfs/s.example.org/%ZZ HTTP/1.1')).toMatch(/ 400 /);
    expect(await rawStatus(server, 'garbage')).toMatch(/ 400 /);
    await stillServes(server);
  });

  it('answers other methods with 405 and an Allow header', async () => {
    const { server } = await served();
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await fetch(`${server.url}/s.example.org/.cvmfspublished`, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    }
    await stillServes(server);
  });

  it('answers a directory where an object should be, or an object removed, with 404', async () => {
    const { server, root } = await served();
    rmSync(path.join(root, OBJECT));
    mkdirSync(path.join(root, OBJECT));
    expect((await fetch(`${server.url}/s.example.org/${OBJECT}`)).status).toBe(404);
    rmSync(path.join(root, OBJECT), { recursive: true });
    expect((await fetch(`${server.url}/s.example.org/${OBJECT}`)).status).toBe(404);
    await stillServes(server);
  });

  it('does not follow symlinks out of the storage', async () => {
    const { server, root, base } = await served();
    const secret = path.join(base, 'secret');
    writeFileSync(secret, 'host secret');
    rmSync(path.join(root, OBJECT));
    symlinkSync(secret, path.join(root, OBJECT));
    expect((await fetch(`${server.url}/s.example.org/${OBJECT}`)).status).toBe(404);
    // A symlinked data/xx directory pointing outside.
    const outside = path.join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'c'.repeat(38)), 'outside bytes');
    renameSync(path.join(root, 'data', 'ab'), path.join(base, 'moved'));
    symlinkSync(outside, path.join(root, 'data', 'ab'));
    expect((await fetch(`${server.url}/s.example.org/${OBJECT}`)).status).toBe(404);
    await stillServes(server);
  });

  it('serves exactly the bytes, with no content encoding', async () => {
    const { server, root } = await served();
    const response = await fetch(`${server.url}/s.example.org/${OBJECT}`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(Buffer.from(await response.arrayBuffer())).toEqual(
      readFileSync(path.join(root, OBJECT)),
    );
  });

  it('prints an IPv6 address in brackets', async () => {
    const root = await tmpdir();
    const server = await serveRepositories({
      repositories: new Map([['s.example.org', root]]),
      host: '::1',
    }).catch((error: unknown) => error as Error);
    if (server instanceof Error) {
      console.log(`skipping the IPv6 check: cannot listen on ::1 here (${server.message})`);
      return;
    }
    onTestFinished(() => server.close());
    expect(server.url).toBe(`http://[::1]:${server.port}/cvmfs`);
  });
});
