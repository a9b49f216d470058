import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startUcvm } from '../helpers/cli.js';
import { makeRepo } from '../helpers/repo.js';

/** A server that accepts connections and never sends a byte. */
async function silentServer(): Promise<string> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/cvmfs/test.example.org`;
}

describe('read commands against a server that never answers', () => {
  it.each([['tags'], ['ls'], ['verify']])('repo %s gives up after --timeout', async (command) => {
    const repo = await makeRepo();
    const url = await silentServer();
    const result = await startUcvm(['repo', command, url, '--keys', repo.keys, '--timeout', '0.5'])
      .done;
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`error HTTP_FAILED: ${url}/.cvmfspublished`);
    expect(result.stderr).toContain('(idle timeout)');
  });

  it('refuses a timeout that is not a positive number', async () => {
    const result = await startUcvm([
      'repo',
      'tags',
      'http://127.0.0.1:9/x.example.org',
      '--timeout',
      'soon',
    ]).done;
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--timeout must be a positive number of seconds');
  });
});
