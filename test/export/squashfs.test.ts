import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { hashToHex, objectPath } from '../../src/cvmfs/hash.js';
import { exportSquashfs } from '../../src/export/index.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import { openSource } from '../../src/reader/source.js';
import { serveInChild, ucvm } from '../helpers/cli.js';
import { describeTree } from '../helpers/describe-tree.js';
import { makeRepo, masterKeysOf, type TestRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { tmpdir } from '../helpers/tmp.js';

/** The image extracted by unsquashfs (an independent reader) into a fresh directory. */
function extract(image: string, into: string): string {
  const dir = path.join(into, 'extracted');
  execFileSync('unsquashfs', ['-no-progress', '-quiet', '-d', dir, image]);
  return dir;
}

async function richRepo(): Promise<{ repo: TestRepo; tree: string }> {
  const repo = await makeRepo();
  const tree = await tmpdir();
  buildRichTree(tree);
  await repo.publisher.publish({ tree, tag: 'v1' });
  return { repo, tree };
}

async function open(repo: TestRepo, location = repo.storage) {
  const repository = await openVerifiedRepository(openSource(location), {
    masterKeys: masterKeysOf(repo),
    fqrn: 'test.example.org',
  });
  onTestFinished(() => repository.close());
  return repository;
}

beforeAll(() => {
  // The CLI tests run the built command.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}, 120_000);

describe('ucvm repo export --format squashfs', () => {
  it('writes the rich tree as unsquashfs sees it: modes, owners, mtimes, contents, links, devices, xattrs', async () => {
    const { repo, tree } = await richRepo();
    const out = await tmpdir();
    const image = path.join(out, 'v1.squashfs');
    const repository = await open(repo);
    const result = await exportSquashfs(await repository.snapshot('v1'), { out: image });
    expect(result.files).toBeGreaterThan(5);
    expect(result.imageBytes).toBe(readFileSync(image).length);
    const extracted = extract(image, out);
    const seen = describeTree(extracted);
    expect(seen).toEqual(describeTree(tree));
    // The things the rich tree is there for, spelled out.
    expect(seen.get('/etc/motd')).toContain('xattrs=user.foo="bar"');
    expect(seen.get('/etc/motd')).toContain('mtime=1600000000');
    expect(seen.get('/data/ünïcode.txt')).toContain('uid=1234 gid=5678');
    expect(seen.get('/links/a')).toContain('nlink=2');
    expect(seen.get('/links/sym')).toContain('target=../etc/motd');
    expect(seen.get('/dev/zero')).toMatch(/^mode=20\d+ .*rdev=261/);
    expect(seen.get('/dev/fifo')).toMatch(/^mode=10\d+ /);
    expect(readFileSync(path.join(extracted, 'big.bin'))).toEqual(
      readFileSync(path.join(tree, 'big.bin')),
    );
    // The superblock time is the snapshot's, not the export's.
    const fsTime = execFileSync('unsquashfs', ['-mkfs-time', image]).toString().trim();
    expect(Number(fsTime)).toBe(result.mkfsTime);
    expect(result.mkfsTime).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(readdirSync(out).sort()).toEqual(['extracted', 'v1.squashfs']);
    console.log(
      `rich tree: ${result.entries} entries, ${result.files} files, ${result.bytes} bytes -> ${result.imageBytes} bytes image in ${result.seconds} s`,
    );
  });

  it('keeps sockets, block devices, setuid and odd modes, read-only directories and trusted xattrs', async () => {
    const repo = await makeRepo();
    const tree = await tmpdir({ 'ro/inside': 'x\n', 'bin/su': 'su\n', none: 'n\n' });
    execFileSync('python3', [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      path.join(tree, 'sock'),
    ]);
    execFileSync('mknod', [path.join(tree, 'loop9'), 'b', '7', '9']);
    execFileSync('setfattr', ['-n', 'trusted.t', '-v', '0x00ff', path.join(tree, 'bin/su')]);
    chmodSync(path.join(tree, 'bin/su'), 0o4755);
    chmodSync(path.join(tree, 'none'), 0);
    chmodSync(path.join(tree, 'ro'), 0o555);
    await repo.publisher.publish({ tree, tag: 'odd' });
    const out = await tmpdir();
    const image = path.join(out, 'odd.squashfs');
    const repository = await open(repo);
    await exportSquashfs(await repository.snapshot('odd'), { out: image, compression: 'xz' });
    const extracted = extract(image, out);
    const seen = describeTree(extracted);
    expect(seen).toEqual(describeTree(tree));
    expect(seen.get('/sock')).toMatch(/^mode=140755 /);
    expect(seen.get('/loop9')).toMatch(/^mode=60\d+ .*rdev=1801/);
    expect(seen.get('/bin/su')).toMatch(/^mode=104755 /);
    expect(seen.get('/none')).toMatch(/^mode=100000 /);
    expect(
      execFileSync('getfattr', ['-n', 'trusted.t', '-e', 'hex', path.join(extracted, 'bin/su')])
        .toString()
        .trim(),
    ).toContain('trusted.t=0x00ff');
    expect(execFileSync('unsquashfs', ['-s', image]).toString()).toContain('Compression xz');
  });

  it('gives the same bytes for the same snapshot, also over HTTP with the CLI', async () => {
    const { repo } = await richRepo();
    const out = await tmpdir();
    const repository = await open(repo);
    const first = await exportSquashfs(await repository.snapshot('v1'), {
      out: path.join(out, 'a.squashfs'),
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const server = await serveInChild([repo.storage]);
    onTestFinished(() => server.close());
    const url = `${server.url}/test.example.org`;
    const cli = ucvm([
      'repo',
      'export',
      `${url}@v1`,
      '--format',
      'squashfs',
      '--out',
      path.join(out, 'b.squashfs'),
      '--keys',
      repo.keys,
      '--json',
    ]);
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const report = JSON.parse(cli.stdout) as { imageSha256: string; verified: boolean };
    expect(report.verified).toBe(true);
    expect(report.imageSha256).toBe(first.imageSha256);
    expect(readFileSync(path.join(out, 'b.squashfs'))).toEqual(
      readFileSync(path.join(out, 'a.squashfs')),
    );
  });

  it('fails on a corrupt object, naming it, and leaves no image', async () => {
    const { repo } = await richRepo();
    const repository = await open(repo);
    const entry = await (await repository.snapshot('v1')).stat('/etc/motd');
    repository.close();
    const object = objectPath(hashToHex(entry.hash!), '');
    const file = path.join(repo.storage, object);
    // Other content of the same size, stored as a valid zlib stream: only the hash tells.
    writeFileSync(file, deflateSync('HELLO\n'));
    const out = await tmpdir();
    const image = path.join(out, 'v1.squashfs');
    const cli = ucvm(['repo', 'export', `${repo.storage}@v1`, '--out', image, '--keys', repo.keys]);
    expect(cli.status).toBe(1);
    expect(cli.stderr).toContain(
      `error OBJECT_CORRUPT: ${object}: object ${object} does not match its hash`,
    );
    expect(existsSync(image)).toBe(false);
    expect(readdirSync(out)).toEqual([]);
    // Through the library: an image already there stays as it was, the work dir is removed.
    writeFileSync(image, 'old image');
    const work = await tmpdir();
    const corrupt = await open(repo);
    await expect(
      exportSquashfs(await corrupt.snapshot('v1'), { out: image, tmpDir: work }),
    ).rejects.toThrow(`object ${object} does not match its hash`);
    expect(readFileSync(image, 'utf8')).toBe('old image');
    expect(readdirSync(out)).toEqual(['v1.squashfs']);
    expect(readdirSync(work)).toEqual([]);
  });

  it('refuses a tag that does not exist and an --out in a missing directory', async () => {
    const { repo } = await richRepo();
    const out = await tmpdir();
    const noTag = ucvm([
      'repo',
      'export',
      `${repo.storage}@nope`,
      '--out',
      path.join(out, 'x.squashfs'),
      '--keys',
      repo.keys,
    ]);
    expect(noTag.status).toBe(1);
    expect(noTag.stderr).toContain('error TAG_NOT_FOUND: no tag nope');
    const noDir = ucvm([
      'repo',
      'export',
      `${repo.storage}@v1`,
      '--out',
      path.join(out, 'missing', 'x.squashfs'),
      '--keys',
      repo.keys,
    ]);
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toContain('does not exist');
    const badFormat = ucvm([
      'repo',
      'export',
      `${repo.storage}@v1`,
      '--format',
      'tar',
      '--out',
      path.join(out, 'x.tar'),
      '--keys',
      repo.keys,
    ]);
    expect(badFormat.status).toBe(2);
    expect(readdirSync(out)).toEqual([]);
  });
});
