import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { diffSnapshots } from '../../src/reader/diff.js';
import { Repository } from '../../src/reader/repository.js';
import { httpSource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { serveRepositories } from '../../src/serve/index.js';
import { startUcvm } from '../helpers/cli.js';
import { makeRepo } from '../helpers/repo.js';
import { tmpdir } from '../helpers/tmp.js';

describe('reading a repository over HTTP', () => {
  it('lists tags, reads files, diffs and verifies without any private key', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ 'etc/motd': 'one\n', 'usr/share/doc/readme': 'docs\n' });
    await repo.publisher.publish({ tree, tag: 'v1' });
    writeFileSync(path.join(tree, 'etc/motd'), 'two\n');
    await repo.publisher.publish({ tree, tag: 'v2' });

    const requests: string[] = [];
    const server = await serveRepositories({
      repositories: new Map([['test.example.org', repo.storage]]),
      onRequest: (_m, url, status) => requests.push(`${status} ${url}`),
    });
    onTestFinished(() => server.close());
    const repository = await Repository.open(httpSource(`${server.url}/test.example.org`));
    expect((await repository.tags()).map((t) => t.name).sort()).toEqual([
      'trunk',
      'trunk-previous',
      'v1',
      'v2',
    ]);
    expect((await (await repository.snapshot('v1')).readFile('/etc/motd')).toString()).toBe(
      'one\n',
    );
    const diff = await diffSnapshots(
      await repository.snapshot('v1'),
      await repository.snapshot('v2'),
    );
    expect(diff.changes.map((c) => `${c.change} ${c.path}`)).toEqual(['modified /etc/motd']);
    const masterKeys = [
      createPublicKey(readFileSync(path.join(repo.keys, 'test.example.org.pub'))),
    ];
    const report = await verifyRepository(repository, { masterKeys, now: new Date() });
    expect(report.problems).toEqual([]);
    repository.close();
    expect(requests.every((line) => line.startsWith('200 '))).toBe(true);
  });

  it('serves only repository files, untransformed', async () => {
    const repo = await makeRepo();
    const server = await serveRepositories({
      repositories: new Map([['test.example.org', repo.storage]]),
    });
    onTestFinished(() => server.close());
    const base = `${server.url}/test.example.org`;
    const manifest = await fetch(`${base}/.cvmfspublished`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('content-encoding')).toBeNull();
    expect(manifest.headers.get('cache-control')).toBe('max-age=61');
    expect(
      Buffer.from(await manifest.arrayBuffer()).equals(
        readFileSync(path.join(repo.storage, '.cvmfspublished')),
      ),
    ).toBe(true);
    for (const hidden of [
      'data/txn/ucvm.lock',
      'data/txn/ucvm.lock.holder',
      '../keys/test.example.org.masterkey',
      'nothing',
    ]) {
      expect((await fetch(`${base}/${hidden}`)).status).toBe(404);
    }
    expect((await fetch(`${server.url}/other.example.org/.cvmfspublished`)).status).toBe(404);
  });

  it('runs as `ucvm repo serve` until interrupted', async () => {
    const repo = await makeRepo();
    const run = startUcvm(['repo', 'serve', repo.storage, '--port', '0', '--json']);
    const url = await new Promise<string>((resolve) => {
      let out = '';
      run.child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('}')) resolve((JSON.parse(out) as { url: string }).url);
      });
    });
    expect((await fetch(`${url}/test.example.org/.cvmfswhitelist`)).status).toBe(200);
    run.child.kill('SIGINT');
    expect((await run.done).status).toBe(0);
  });
});
