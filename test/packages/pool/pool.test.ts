import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isUcvmError, type UcvmError } from '../../../src/errors.js';
import { run } from '../../../src/exec/index.js';
import type { PackageRecord } from '../../../src/packages/package-source.js';
import { createFallbackSource, createPool } from '../../../src/packages/pool/index.js';
import { createAptSource } from '../../../src/packages/apt/index.js';
import { buildAptRepo, sourceFor } from '../../helpers/apt-repo.js';
import type { DebSpec } from '../../helpers/deb-fixtures.js';
import { serveDirectory } from '../../helpers/http-server.js';
import { tmpdir } from '../../helpers/tmp.js';

const packages: DebSpec[] = [
  { name: 'hello', version: '1:1.0-1', depends: 'libgreet (>= 2)' },
  { name: 'libgreet', version: '2.1-3', provides: 'greeter' },
];

async function archive(specs: readonly DebSpec[] = packages) {
  const repo = await buildAptRepo({ packages: specs });
  const server = await serveDirectory(repo.dir);
  onTestFinished(() => server.close());
  const fresh = async () =>
    createAptSource({
      cacheDir: await tmpdir(),
      architecture: 'amd64',
      sources: [sourceFor(repo, server.url)],
    });
  return { repo, source: await fresh(), fresh };
}

async function fetched(source: ReturnType<typeof createAptSource>, name: string) {
  const record = [...(await source.index()).all()].find((r) => r.name === name);
  if (record === undefined) throw new Error(`${name} missing`);
  return { record, debPath: await source.fetch(record) };
}

async function failure(promise: Promise<unknown>): Promise<UcvmError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isUcvmError(error)) throw new Error(`expected a UcvmError, got ${String(error)}`);
  return error;
}

describe('package pool', () => {
  it('keeps a file with its origin, hash, size, first user and control stanza', async () => {
    const { source } = await archive();
    const hello = await fetched(source, 'hello');
    const pool = createPool(await tmpdir());
    const entry = await pool.add(hello.record, hello.debPath, 'cernvm-system 1.0.0');

    expect(entry).toMatchObject({
      name: 'hello',
      version: '1:1.0-1',
      architecture: 'amd64',
      sha256: hello.record.sha256,
      size: hello.record.size,
      file: 'debs/hello_1%3a1.0-1_amd64.deb',
      origin: hello.record.origin,
      filename: 'pool/main/h/hello/hello_1.0-1_amd64.deb',
      firstUsedBy: 'cernvm-system 1.0.0',
    });
    expect(entry.control).toMatch(/^Package: hello\nVersion: 1:1\.0-1\n/);
    expect(entry.control).toContain('Depends: libgreet (>= 2)\n');
    expect(entry.control).not.toMatch(/^(Filename|SHA256|Size):/m);
    expect(await pool.has('hello', '1:1.0-1', 'amd64')).toBe(true);
    expect(await pool.has('hello', '1:1.0-1', 'arm64')).toBe(false);
    // The copy is the same file, checked by an independent tool.
    const { stdout } = await run('sha256sum', [path.join(pool.dir, entry.file)]);
    expect(stdout.split(' ')[0]).toBe(hello.record.sha256);
    const index = JSON.parse(await readFile(path.join(pool.dir, 'index.json'), 'utf8')) as {
      format: string;
      packages: unknown[];
    };
    expect(index.format).toBe('ucvm-package-pool/1');
    expect(index.packages).toHaveLength(1);
  });

  it('adds a file once: a later user does not change the record', async () => {
    const { source } = await archive();
    const hello = await fetched(source, 'hello');
    const libgreet = await fetched(source, 'libgreet');
    const pool = createPool(await tmpdir());
    await pool.addAll([hello], 'cernvm-system 1.0.0');
    await pool.addAll([hello, libgreet], 'cernvm-system 1.1.0');
    const entries = await createPool(pool.dir).entries();
    expect(entries.map((e) => `${e.name} ${e.firstUsedBy}`)).toEqual([
      'hello cernvm-system 1.0.0',
      'libgreet cernvm-system 1.1.0',
    ]);
  });

  it('refuses other content under a name, version and architecture it holds', async () => {
    const { source } = await archive();
    const hello = await fetched(source, 'hello');
    const pool = createPool(await tmpdir());
    await pool.add(hello.record, hello.debPath, 'cernvm-system 1.0.0');
    const { source: rebuilt } = await archive([
      { ...packages[0], files: [{ path: '/x', content: 'rebuilt' }] } as DebSpec,
    ]);
    const other = await fetched(rebuilt, 'hello');
    const error = await failure(pool.add(other.record, other.debPath, 'cernvm-system 1.1.0'));
    expect(error.code).toBe('PACKAGE_VERIFY');
    expect(error.message).toContain('hello 1:1.0-1');
  });

  it('refuses a file that does not match the record it is added with', async () => {
    const { source } = await archive();
    const hello = await fetched(source, 'hello');
    const libgreet = await fetched(source, 'libgreet');
    const pool = createPool(await tmpdir());
    const error = await failure(pool.add(hello.record, libgreet.debPath, 'cernvm-system 1.0.0'));
    expect(error.code).toBe('PACKAGE_VERIFY');
    expect(await pool.entries()).toEqual([]);
  });

  it('serves its records as a package source and re-hashes every file it hands out', async () => {
    const { source } = await archive();
    const hello = await fetched(source, 'hello');
    const pool = createPool(await tmpdir());
    const entry = await pool.add(hello.record, hello.debPath, 'cernvm-system 1.0.0');
    const poolSource = pool.source();
    const record = (await poolSource.index()).find('hello', '1:1.0-1', 'amd64');
    expect(record?.fields.get('Depends')).toBe('libgreet (>= 2)');
    expect(record?.origin).toBe(`pool ${pool.dir}`);
    expect(await poolSource.fetch(record as PackageRecord)).toBe(path.join(pool.dir, entry.file));

    const file = path.join(pool.dir, entry.file);
    await writeFile(file, Buffer.alloc((await stat(file)).size, 0x43));
    const error = await failure(poolSource.fetch(record as PackageRecord));
    expect(error.code).toBe('PACKAGE_VERIFY');
    expect(error.message).toContain('hello 1:1.0-1');
  });
});

describe('archive first, pool as fallback', () => {
  it('prefers the archive record and takes from the pool only what the archive lacks', async () => {
    const old = await archive();
    const pool = createPool(await tmpdir());
    await pool.addAll(
      [await fetched(old.source, 'hello'), await fetched(old.source, 'libgreet')],
      'cernvm-system 1.0.0',
    );
    // The archive moved on: hello is gone, libgreet is still there.
    const current = await archive([packages[1] as DebSpec]);
    const combined = createFallbackSource(current.source, pool.source());
    const index = await combined.index();
    expect(index.find('libgreet', '2.1-3')?.origin).not.toMatch(/^pool /);
    const hello = index.find('hello', '1:1.0-1');
    expect(hello?.origin).toBe(`pool ${pool.dir}`);
    expect(await combined.fetch(hello as PackageRecord)).toBe(
      path.join(pool.dir, 'debs/hello_1%3a1.0-1_amd64.deb'),
    );
  });

  it('fetches from the pool when the archive lists a file it no longer serves', async () => {
    const { repo, source, fresh } = await archive();
    const pool = createPool(await tmpdir());
    await pool.addAll([await fetched(source, 'libgreet')], 'cernvm-system 1.0.0');
    await rm(repo.debs.get('libgreet') ?? '');
    // A new cache, so the file has to come from the archive, which no longer has it.
    const combined = createFallbackSource(await fresh(), pool.source());
    const record = (await combined.index()).find('libgreet', '2.1-3');
    expect(record?.origin).not.toMatch(/^pool /);
    expect(await combined.fetch(record as PackageRecord)).toMatch(
      /^.*\/debs\/libgreet_2\.1-3_amd64\.deb$/,
    );
  });
});
