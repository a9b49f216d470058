import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isUcvmError, type UcvmError } from '../../../src/errors.js';
import { run } from '../../../src/exec/index.js';
import { silentLogger } from '../../../src/log.js';
import { createAptSource } from '../../../src/packages/apt/index.js';
import { buildAptRepo, sourceFor, type AptRepoSpec } from '../../helpers/apt-repo.js';
import type { DebSpec } from '../../helpers/deb-fixtures.js';
import { serveDirectory, type StaticServer } from '../../helpers/http-server.js';
import { tmpdir } from '../../helpers/tmp.js';

const packages: DebSpec[] = [
  {
    name: 'hello',
    version: '1.0-1',
    depends: 'libgreet (>= 2)',
    files: [{ path: '/usr/bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 }],
  },
  { name: 'hello', version: '1:0.9-1' },
  { name: 'libgreet', version: '2.1-3', multiArch: 'same', provides: 'greeter' },
  { name: 'greet-data', version: '2.1-3', architecture: 'all' },
];

async function served(spec: Partial<AptRepoSpec> = {}) {
  const repo = await buildAptRepo({ packages, ...spec });
  const server = await serveDirectory(repo.dir);
  onTestFinished(() => server.close());
  return { repo, server, source: sourceFor(repo, server.url) };
}

async function failure(promise: Promise<unknown>): Promise<UcvmError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isUcvmError(error)) throw new Error(`expected a UcvmError, got ${String(error)}`);
  return error;
}

function requestsOf(server: StaticServer): string[] {
  return server.requests.splice(0);
}

describe('createAptSource over HTTP', () => {
  it('verifies and parses the indices of a signed archive', async () => {
    const { server, source } = await served();
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const index = await apt.index();

    expect(index.versions('hello').map((record) => record.version)).toEqual(['1:0.9-1', '1.0-1']);
    const hello = index.find('hello', '1.0-1');
    expect(hello?.architecture).toBe('amd64');
    expect(hello?.fields.get('Depends')).toBe('libgreet (>= 2)');
    expect(hello?.filename).toBe('pool/main/h/hello/hello_1.0-1_amd64.deb');
    expect(hello?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(hello?.origin).toBe(`${server.url} stable/main`);
    expect(index.find('greet-data', '2.1-3')?.architecture).toBe('all');
    expect(index.find('libgreet', '2.1-3')?.fields.get('Provides')).toBe('greeter');
    expect([...index.all()]).toHaveLength(4);
    // xz is preferred when the xz program exists.
    expect(server.requests).toContain('/dists/stable/main/binary-amd64/Packages.xz');
  });

  it('downloads nothing but InRelease on a second run, and reuses fetched .debs', async () => {
    const { server, source } = await served();
    const cacheDir = await tmpdir();
    const first = createAptSource({ cacheDir, architecture: 'amd64', sources: [source] });
    const record = (await first.index()).find('hello', '1.0-1');
    if (record === undefined) throw new Error('hello 1.0-1 missing');
    const debPath = await first.fetch(record);
    expect(first.stats().downloads).toBe(3);
    requestsOf(server);

    const second = createAptSource({ cacheDir, architecture: 'amd64', sources: [source] });
    const again = (await second.index()).find('hello', '1.0-1');
    if (again === undefined) throw new Error('hello 1.0-1 missing');
    expect(await second.fetch(again)).toBe(debPath);
    expect(requestsOf(server)).toEqual(['/dists/stable/InRelease']);
    expect(second.stats()).toMatchObject({ downloads: 1, cacheHits: 2 });

    const offline = createAptSource({
      cacheDir,
      architecture: 'amd64',
      sources: [source],
      offline: true,
      verifyCachedDebs: true,
    });
    const cached = (await offline.index()).find('hello', '1.0-1');
    if (cached === undefined) throw new Error('hello 1.0-1 missing');
    expect(await offline.fetch(cached)).toBe(debPath);
    expect(requestsOf(server)).toEqual([]);
    expect(offline.stats().downloads).toBe(0);
  });

  it('keeps parsed indices, and parses again when a stored one is corrupt', async () => {
    const { source } = await served();
    const cacheDir = await tmpdir();
    const first = createAptSource({ cacheDir, architecture: 'amd64', sources: [source] });
    const expected = [...(await first.index()).all()].map((r) => `${r.name}=${r.version}`);
    const parsedDir = path.join(cacheDir, 'indices', 'parsed');
    const stored = await readdir(parsedDir);
    expect(stored.length).toBeGreaterThan(0);

    for (const name of stored) {
      const file = path.join(parsedDir, name);
      const bytes = await readFile(file);
      bytes[bytes.length - 40] = (bytes[bytes.length - 40] ?? 0) ^ 0xff;
      await writeFile(file, bytes);
    }
    const warnings: unknown[] = [];
    const logger = {
      ...silentLogger,
      warn: (message: string, meta?: unknown) => warnings.push({ message, meta }),
    };
    const second = createAptSource({ cacheDir, architecture: 'amd64', sources: [source], logger });
    const again = [...(await second.index()).all()].map((r) => `${r.name}=${r.version}`);
    expect(again).toEqual(expected);
    expect(warnings).toContainEqual({
      message: 'parsed apt index cache is unusable; parsing again',
      meta: { file: expect.stringContaining(parsedDir) as unknown, reason: 'checksum mismatch' },
    });

    // Stored again: a third run reads it without complaint.
    warnings.length = 0;
    const third = createAptSource({ cacheDir, architecture: 'amd64', sources: [source], logger });
    expect([...(await third.index()).all()].map((r) => `${r.name}=${r.version}`)).toEqual(expected);
    expect(warnings).toEqual([]);
  });

  it('prunes indices and parsed ones of another format or unused for 30 days when storing new ones', async () => {
    const { source } = await served();
    const cacheDir = await tmpdir();
    const parsedDir = path.join(cacheDir, 'indices', 'parsed');
    await mkdir(parsedDir, { recursive: true });
    const old = path.join(parsedDir, `${'a'.repeat(64)}.v1`);
    const recent = path.join(parsedDir, `${'b'.repeat(64)}.v1`);
    const otherFormat = path.join(parsedDir, `${'c'.repeat(64)}.v0`);
    const unrelated = path.join(parsedDir, 'notes.txt');
    for (const file of [old, recent, otherFormat, unrelated]) await writeFile(file, 'x');
    const longAgo = new Date(Date.now() - 31 * 86_400_000);
    await utimes(old, longAgo, longAgo);
    // Downloaded index files go the same way.
    const indexDir = path.join(cacheDir, 'indices', 'SHA256');
    await mkdir(indexDir, { recursive: true });
    const oldIndex = path.join(indexDir, 'd'.repeat(64));
    const recentIndex = path.join(indexDir, 'e'.repeat(64));
    for (const file of [oldIndex, recentIndex]) await writeFile(file, 'x');
    await utimes(oldIndex, longAgo, longAgo);
    await createAptSource({ cacheDir, architecture: 'amd64', sources: [source] }).index();
    const left = await readdir(parsedDir);
    expect(left).toContain(path.basename(recent));
    expect(left).toContain('notes.txt');
    expect(left).not.toContain(path.basename(old));
    expect(left).not.toContain(path.basename(otherFormat));
    const indices = await readdir(indexDir);
    expect(indices).toContain(path.basename(recentIndex));
    expect(indices).not.toContain(path.basename(oldIndex));
    // The index just parsed is stored beside the table still in use.
    expect(
      left.filter((name) => name.endsWith('.v1') && name !== path.basename(recent)),
    ).not.toEqual([]);
  });

  it('fetches a verified .deb that dpkg-deb can read', async () => {
    const { source } = await served();
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const record = (await apt.index()).find('hello', '1.0-1');
    if (record === undefined) throw new Error('hello 1.0-1 missing');
    const file = await apt.fetch(record);
    expect(path.basename(file)).toBe('hello_1.0-1_amd64.deb');
    expect((await run('dpkg-deb', ['--field', file, 'Version'])).stdout.trim()).toBe('1.0-1');
    const epoch = (await apt.index()).find('hello', '1:0.9-1');
    if (epoch === undefined) throw new Error('hello 1:0.9-1 missing');
    expect(path.basename(await apt.fetch(epoch))).toBe('hello_1%3a0.9-1_amd64.deb');
  });

  it('rejects a Packages file that does not match the Release file, naming it', async () => {
    const { repo, source } = await served();
    // Same size, one byte changed: only the SHA256 can tell.
    for (const file of repo.indexFiles) {
      const data = await readFile(file);
      const middle = Math.floor(data.length / 2);
      data[middle] = (data[middle] ?? 0) ^ 0x01;
      await writeFile(file, data);
    }
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const error = await failure(apt.index());
    expect(error.code).toBe('PACKAGE_VERIFY');
    expect(error.message).toContain('/dists/stable/main/binary-amd64/Packages.xz');
  });

  it('rejects a tampered .deb, naming the package, and keeps nothing of it', async () => {
    const { repo, source } = await served();
    const cacheDir = await tmpdir();
    const apt = createAptSource({ cacheDir, architecture: 'amd64', sources: [source] });
    const record = (await apt.index()).find('libgreet', '2.1-3');
    if (record === undefined) throw new Error('libgreet missing');
    const deb = repo.debs.get('libgreet') ?? '';
    const data = await readFile(deb);
    data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0xff;
    await writeFile(deb, data);
    const error = await failure(apt.fetch(record));
    expect(error.code).toBe('PACKAGE_VERIFY');
    expect(error.message).toContain('libgreet 2.1-3');
    expect(await readdir(path.join(cacheDir, 'debs'))).toEqual([]);
    const retry = await failure(apt.fetch(record));
    expect(retry.code).toBe('PACKAGE_VERIFY');
  });

  it('rejects an unsigned archive', async () => {
    const { source } = await served({ sign: false });
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const error = await failure(apt.index());
    expect(error.code).toBe('RELEASE_SIGNATURE');
    expect(error.message).toContain('/dists/stable/Release');
  });

  it('rejects a Release signed by a key that is not trusted, with gpgv reason', async () => {
    const { server, source } = await served({ sign: 'wrong-key' });
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const error = await failure(apt.index());
    expect(error.code).toBe('RELEASE_SIGNATURE');
    expect(error.message).toContain(`${server.url}/dists/stable/InRelease`);
    expect(error.message).toContain('not in the keyring');
    expect(error.details).toContain('gpgv');
  });

  it('rejects an InRelease whose signed text was changed', async () => {
    const { repo, source } = await served();
    const file = path.join(repo.dir, 'dists/stable/InRelease');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('Label: ucvm-test', 'Label: ucvm-evil'),
    );
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const error = await failure(apt.index());
    expect(error.code).toBe('RELEASE_SIGNATURE');
    expect(error.message).toContain('bad signature');
  });

  it('rejects a Release past its Valid-Until unless the check is off', async () => {
    const { source } = await served({ validUntil: new Date(Date.now() - 86_400_000) });
    const strict = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    expect((await failure(strict.index())).code).toBe('RELEASE_SIGNATURE');
    const lax = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
      checkValidUntil: false,
    });
    expect([...(await lax.index()).all()]).toHaveLength(4);
  });

  it('falls back to Release + Release.gpg, reads by-hash and binary-all', async () => {
    const { server, source } = await served({ inRelease: false, byHash: true, splitAll: true });
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
    });
    const index = await apt.index();
    expect(index.find('greet-data', '2.1-3')?.architecture).toBe('all');
    expect([...index.all()]).toHaveLength(4);
    expect(server.requests).toContain('/dists/stable/Release.gpg');
    expect(server.requests.filter((request) => request.includes('/by-hash/SHA256/'))).toHaveLength(
      2,
    );
  });

  it('lets the first source win for the same name and version, and reads file: URIs', async () => {
    const first = await served({
      packages: [
        { name: 'hello', version: '1.0-1', files: [{ path: '/etc/first', content: 'one' }] },
      ],
    });
    const second = await buildAptRepo({
      packages: [
        { name: 'hello', version: '1.0-1', files: [{ path: '/etc/second', content: 'two' }] },
        { name: 'extra', version: '3' },
      ],
    });
    const secondSource = sourceFor(second, pathToFileURL(second.dir).href);
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [first.source, secondSource],
    });
    const index = await apt.index();
    expect(index.find('hello', '1.0-1')?.origin).toBe(`${first.server.url} stable/main`);
    const extra = index.find('extra', '3');
    expect(extra?.origin).toBe(`${secondSource.uri} stable/main`);
    if (extra === undefined) throw new Error('extra missing');
    expect(
      (await run('dpkg-deb', ['--field', await apt.fetch(extra), 'Package'])).stdout.trim(),
    ).toBe('extra');
  });

  it('fails offline when the cache is empty', async () => {
    const { source } = await served();
    const apt = createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [source],
      offline: true,
    });
    expect((await failure(apt.index())).code).toBe('PACKAGE_MISSING');
  });
});
