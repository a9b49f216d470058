import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compress, decompress } from '../../src/cvmfs/compression.js';
import { hashBytes, hashToHex, objectPath } from '../../src/cvmfs/hash.js';
import { HistoryDatabase } from '../../src/cvmfs/history.js';
import { Repository } from '../../src/reader/repository.js';
import { directorySource, fqrnOfLocation } from '../../src/reader/source.js';
import { serveRepositories } from '../../src/serve/index.js';
import { startUcvm, ucvm } from '../helpers/cli.js';
import { serveDirectory } from '../helpers/http-server.js';
import { makeRepo, type TestRepo } from '../helpers/repo.js';
import { manifestLine, setManifestLine } from '../helpers/tamper.js';
import { tmpdir } from '../helpers/tmp.js';

/** Stores `bytes` as an object of the repository and returns its hash. */
function plantObject(storage: string, bytes: Buffer, suffix: 'H' | 'C'): string {
  const hash = hashToHex(hashBytes('sha1', bytes));
  writeFileSync(path.join(storage, objectPath(hash, suffix)), bytes);
  return hash;
}

/** Adds a tag whose "hash" is a path to the current history and points the manifest at it. */
function plantTraversalTag(repo: TestRepo): void {
  const current = manifestLine(repo.storage, 'H');
  const history = HistoryDatabase.open(
    decompress(readFileSync(path.join(repo.storage, objectPath(current, 'H')))),
  );
  history.put({
    name: 'evil',
    hashHex: '../../../../etc/passwd',
    revision: 99,
    timestamp: 1,
    description: '',
    size: 0,
    branch: '',
  });
  setManifestLine(repo.storage, 'H', plantObject(repo.storage, compress(history.serialize()), 'H'));
  history.close();
}

async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; details?: string }> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error & { code?: string; details?: string },
  );
}

describe('names read from the repository never leave it', () => {
  it('refuses a tag whose hash is a path, in a directory and over HTTP', async () => {
    const repo = await makeRepo();
    await repo.publisher.publish({ tree: await tmpdir({ a: '1' }), tag: 'v1' });
    plantTraversalTag(repo);

    const repository = await Repository.open(directorySource(repo.storage));
    onTestFinished(() => repository.close());
    const error = await rejection(repository.snapshot('evil'));
    expect(error.code).toBe('REPO_CORRUPT');
    expect(error.details).toContain('tag evil: "../../../../etc/passwd"');

    const server = await serveDirectory(path.dirname(repo.storage));
    onTestFinished(() => server.close());
    // Not spawnSync: the server runs in this process and must keep answering.
    const ls = await startUcvm([
      'repo',
      'ls',
      `${server.url}/test.example.org@evil`,
      '/',
      '--no-verify',
    ]).done;
    expect(ls.status).toBe(1);
    expect(ls.stderr).toContain('REPO_CORRUPT');
    expect(server.requests.length).toBeGreaterThan(0);
    for (const request of server.requests) expect(request).toMatch(/^\/test\.example\.org\//);
  });

  it('refuses a nested catalog named by a path', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ 'sub/.cvmfscatalog': '', 'sub/file': 'x' });
    await repo.publisher.publish({ tree, tag: 'v1' });
    const root = manifestLine(repo.storage, 'C');
    const db = new Database(
      decompress(readFileSync(path.join(repo.storage, objectPath(root, 'C')))),
    );
    expect(db.prepare('SELECT count(*) FROM nested_catalogs').pluck().get()).toBe(1);
    db.prepare('UPDATE nested_catalogs SET sha1 = ?').run('../../../../etc/passwd');
    const planted = plantObject(repo.storage, compress(db.serialize()), 'C');
    db.close();

    const repository = await Repository.open(directorySource(repo.storage));
    onTestFinished(() => repository.close());
    const snapshot = await repository.snapshot(planted);
    const error = await rejection(snapshot.list('/sub'));
    expect(error.code).toBe('REPO_CORRUPT');
    expect(error.message).toContain('names nested catalog /sub by "../../../../etc/passwd"');
  });
});

describe('a directory source', () => {
  it('does not follow a data directory that links out of the storage', async () => {
    const repo = await makeRepo();
    const certificate = objectPath(manifestLine(repo.storage, 'X'), 'X');
    const pair = path.join(repo.storage, path.dirname(certificate));
    const elsewhere = path.join(repo.base, 'elsewhere');
    renameSync(pair, elsewhere);
    symlinkSync(elsewhere, pair);
    const repository = await Repository.open(directorySource(repo.storage));
    onTestFinished(() => repository.close());
    const error = await rejection(repository.certificatePem());
    expect(error.code).toBe('REPO_CORRUPT');
    expect(error.message).toMatch(/leads outside/);
  });

  it('does not follow a repository file that is a symbolic link', async () => {
    const repo = await makeRepo();
    const outside = path.join(repo.base, 'outside');
    mkdirSync(outside);
    const certificate = path.join(repo.storage, objectPath(manifestLine(repo.storage, 'X'), 'X'));
    cpSync(certificate, path.join(outside, 'certificate'));
    rmSync(certificate);
    symlinkSync(path.join(outside, 'certificate'), certificate);
    const repository = await Repository.open(directorySource(repo.storage));
    onTestFinished(() => repository.close());
    const error = await rejection(repository.certificatePem());
    expect(error.code).toBe('REPO_CORRUPT');
    expect(error.message).toMatch(/is a symbolic link/);

    const manifest = path.join(repo.storage, '.cvmfspublished');
    cpSync(manifest, path.join(outside, 'manifest'));
    rmSync(manifest);
    symlinkSync(path.join(outside, 'manifest'), manifest);
    expect((await rejection(Repository.open(directorySource(repo.storage)))).code).toBe(
      'REPO_CORRUPT',
    );
  });

  it('refuses a manifest over its limit by its size, before reading it', async () => {
    const repo = await makeRepo();
    writeFileSync(path.join(repo.storage, '.cvmfspublished'), Buffer.alloc(2 << 20, 'C'));
    const error = await rejection(Repository.open(directorySource(repo.storage)));
    expect(error.code).toBe('LIMIT_EXCEEDED');
    expect(error.message).toMatch(/is 2097152 bytes, more than the 1048576 allowed/);
  });
});

describe('the expected repository name', () => {
  it('comes from the resolved directory or the URL path', () => {
    expect(fqrnOfLocation('srv/a.example.org/')).toBe('a.example.org');
    expect(fqrnOfLocation('http://127.0.0.1:1/cvmfs/b.example.org/')).toBe('b.example.org');
    expect(fqrnOfLocation('http://127.0.0.1:1/cvmfs/c.example.org?x=/y')).toBe('c.example.org');
  });

  it('is the directory name also when the repository is given as `.`', async () => {
    const repo = await makeRepo();
    const tags = ucvm(['repo', 'tags', '.', '--keys', repo.keys, '--json'], { cwd: repo.storage });
    expect(tags.status, tags.stderr).toBe(0);
    expect(JSON.parse(tags.stdout)).toMatchObject({ verified: true });
  });

  it('is the URL the repository is served under, not what its manifest claims', async () => {
    const repo = await makeRepo();
    const server = await serveRepositories({
      repositories: new Map([['z.example.org', repo.storage]]),
    });
    onTestFinished(() => server.close());
    const key = path.join(repo.keys, 'test.example.org.pub');
    const verify = await startUcvm(['repo', 'verify', `${server.url}/z.example.org`, '--key', key])
      .done;
    expect(verify.status).toBe(1);
    expect(verify.stdout).toContain(
      'manifest names repository test.example.org, expected z.example.org',
    );
    const tags = await startUcvm(['repo', 'tags', `${server.url}/z.example.org`, '--key', key])
      .done;
    expect(tags.status).toBe(1);
    expect(tags.stderr).toContain('SIGNATURE_INVALID');
  });
});

describe('repo cat', () => {
  it('streams a chunked file exactly, and fails when a chunk does not match its hash', async () => {
    const repo = await makeRepo({
      chunking: { minSize: 64 << 10, averageSize: 128 << 10, maxSize: 256 << 10 },
    });
    const content = randomBytes(1 << 20).toString('hex');
    await repo.publisher.publish({ tree: await tmpdir({ big: content }), tag: 'v1' });
    const cat = ucvm(['repo', 'cat', `${repo.storage}@v1`, '/big', '--keys', repo.keys]);
    expect(cat.status, cat.stderr).toBe(0);
    expect(cat.stdout === content).toBe(true);

    const repository = await Repository.open(directorySource(repo.storage));
    const entry = await (await repository.snapshot('v1')).stat('/big');
    repository.close();
    expect(entry.chunks!.length).toBeGreaterThan(2);
    const last = entry.chunks!.at(-1)!;
    writeFileSync(
      path.join(repo.storage, objectPath(hashToHex(last.hash), 'P')),
      compress(Buffer.alloc(last.size, 'x')),
    );
    const corrupt = ucvm(['repo', 'cat', `${repo.storage}@v1`, '/big', '--keys', repo.keys]);
    expect(corrupt.status).toBe(1);
    expect(corrupt.stderr).toMatch(/OBJECT_CORRUPT.*does not match its hash/);
  });
});
