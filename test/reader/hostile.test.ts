import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource, httpSource } from '../../src/reader/source.js';
import { ucvm } from '../helpers/cli.js';
import { makeRepo, masterKeysOf } from '../helpers/repo.js';
import { flipSignatureByte, setManifestLine } from '../helpers/tamper.js';
import { tmpdir } from '../helpers/tmp.js';

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error & { code?: string },
  );
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/cvmfs/h.example.org`;
}

describe('a reader that trusts nothing it fetched', () => {
  it('gives up on a server that accepts and never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    const url = await listen(silent);
    onTestFinished(() => sockets.forEach((socket) => socket.destroy()));
    const error = await failure(
      Repository.open(httpSource(url, { idleMs: 300, connectMs: 300, totalMs: 2000 })),
    );
    expect(error.code).toBe('HTTP_FAILED');
    expect(error.message).toContain(`${url}/.cvmfspublished`);
    expect(error.message).toMatch(/timeout/);
  });

  it('stops an endless body at the limit instead of buffering it', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const endless = createServer((_request, response) => {
      response.writeHead(200);
      const pump = (): void => {
        while (response.write(chunk));
        response.once('drain', pump);
      };
      pump();
    });
    const url = await listen(endless);
    const error = await failure(Repository.open(httpSource(url)));
    expect(error.code).toBe('HTTP_FAILED');
    expect(error.message).toMatch(/longer than the \d+ bytes allowed/);
  });

  it('refuses a Content-Length over the limit before reading', async () => {
    const liar = createServer((_request, response) => {
      response.writeHead(200, { 'content-length': String(5 << 30) });
      response.write('x');
    });
    const url = await listen(liar);
    const error = await failure(Repository.open(httpSource(url)));
    expect(error.message).toMatch(/Content-Length \d+ is more than/);
  });

  it('stops inflating a catalog past its declared size (a zlib bomb)', async () => {
    const repo = await makeRepo();
    await repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' });
    const bomb = deflateSync(Buffer.alloc(256 << 20));
    const { hashBytes, hashToHex, objectPath } = await import('../../src/cvmfs/hash.js');
    const hash = hashToHex(hashBytes('sha1', bomb));
    writeFileSync(path.join(repo.storage, objectPath(hash, 'C')), bomb);
    const repository = await Repository.open(directorySource(repo.storage));
    try {
      const error = await failure(repository.catalog(hash, 16_384));
      expect(error.code).toBe('OBJECT_CORRUPT');
      expect(error.message).toMatch(/inflates to more than/);
    } finally {
      repository.close();
    }
  });

  it('streams a file and stops a content bomb at the size the catalog records', async () => {
    const repo = await makeRepo();
    await repo.publisher.publish({ tree: await tmpdir({ small: 'ten bytes\n' }), tag: 'v1' });
    const repository = await Repository.open(directorySource(repo.storage));
    const entry = await (await repository.snapshot('v1')).stat('/small');
    repository.close();
    const { hashToHex, objectPath } = await import('../../src/cvmfs/hash.js');
    writeFileSync(
      path.join(repo.storage, objectPath(hashToHex(entry.hash!), '')),
      deflateSync(Buffer.alloc(64 << 20)),
    );
    const cat = ucvm(['repo', 'cat', `${repo.storage}@v1`, '/small', '--keys', repo.keys]);
    expect(cat.status, cat.stderr).toBe(1);
    expect(cat.stderr).toMatch(/LIMIT_EXCEEDED|OBJECT_CORRUPT/);
    expect(cat.stdout.length).toBeLessThanOrEqual(10);
  });

  it('refuses hashes that are not hashes before they become paths', async () => {
    const repo = await makeRepo();
    const directory = directorySource(repo.storage);
    await expect(directory.read('../../../../etc/passwd')).rejects.toMatchObject({
      code: 'REPO_CORRUPT',
    });
    setManifestLine(repo.storage, 'C', '../../../../etc/passwd'.padEnd(40, 'x'));
    await expect(Repository.open(directory)).rejects.toMatchObject({ code: 'REPO_CORRUPT' });
  });

  it('reads nothing of a repository whose signature is broken, unless told --no-verify', async () => {
    const repo = await makeRepo();
    await repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' });
    flipSignatureByte(path.join(repo.storage, '.cvmfspublished'));
    const error = await failure(
      openVerifiedRepository(directorySource(repo.storage), { masterKeys: masterKeysOf(repo) }),
    );
    expect(isUcvmError(error, 'SIGNATURE_INVALID')).toBe(true);
    for (const args of [
      ['tags', repo.storage],
      ['ls', `${repo.storage}@v1`],
      ['cat', `${repo.storage}@v1`, '/a'],
      ['diff', `${repo.storage}@trunk`, `${repo.storage}@v1`],
    ]) {
      const result = ucvm(['repo', ...args, '--keys', repo.keys]);
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr).toContain('SIGNATURE_INVALID');
    }
    const unverified = ucvm(['repo', 'tags', repo.storage, '--no-verify', '--json']);
    expect(unverified.status).toBe(0);
    expect(unverified.stderr).toMatch(/WITHOUT checking its signatures/);
    expect(JSON.parse(unverified.stdout)).toMatchObject({ verified: false });
    const noKey = ucvm(['repo', 'tags', repo.storage, '--keys', await tmpdir()]);
    expect(noKey.stderr).toContain('KEY_MISSING');
  });

  it('verifies the name the location gives, never the one the manifest claims', async () => {
    const repo = await makeRepo();
    const copy = path.join(path.dirname(repo.storage), 'z.example.org');
    cpSync(repo.storage, copy, { recursive: true });
    cpSync(path.join(repo.keys, 'test.example.org.pub'), path.join(repo.keys, 'z.example.org.pub'));
    const verify = ucvm(['repo', 'verify', copy, '--keys', repo.keys]);
    expect(verify.status).toBe(1);
    expect(verify.stdout).toMatch(
      /manifest names repository test\.example\.org, expected z\.example\.org/,
    );
    const noKey = ucvm(['repo', 'verify', repo.storage, '--keys', await tmpdir()]);
    expect(noKey.status).toBe(1);
    expect(noKey.stdout).toMatch(/no master public key/);
    expect(ucvm(['repo', 'verify', repo.storage, '--keys', repo.keys]).status).toBe(0);
  });

  it('escapes terminal control characters of names in human output', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ '\x1b[31mred': 'x', plain: 'y' });
    await repo.publisher.publish({ tree, tag: 'v1' });
    const ls = ucvm(['repo', 'ls', `${repo.storage}@v1`, '/', '--keys', repo.keys]);
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout).not.toContain('\x1b');
    expect(ls.stdout).toContain('\\x1b[31mred');
    const json = ucvm(['repo', 'ls', `${repo.storage}@v1`, '/', '--keys', repo.keys, '--json']);
    expect((JSON.parse(json.stdout) as Array<{ path: string }>).map((e) => e.path)).toContain(
      '/\x1b[31mred',
    );
    expect(readFileSync(path.join(tree, '\x1b[31mred'), 'utf8')).toBe('x');
  });
});
