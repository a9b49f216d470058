import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rm, symlink, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { serveDirectory, silentServer } from '../../helpers/http-server.js';
import { removeDir, tmpdir, writeTree } from '../../helpers/tmp.js';
import { FAKE_MOUNT, type FakeDisk, fakeMachine, initramfsBin, sh } from './busybox.js';

let bin = '';
beforeAll(async () => {
  bin = await initramfsBin();
});
afterAll(() => removeDir(bin));

const BLOCK = [
  '#!/bin/sh',
  'echo for cloud-init',
  '[ucernvm-begin]',
  'cvmfs_branch=cernvm-prod.example.org',
  'cvmfs_tag=cernvm-system-1.2.0',
  '[ucernvm-end]',
];
const PARSED = 'cvmfs_branch=cernvm-prod.example.org\ncvmfs_tag=cernvm-system-1.2.0\n';

/** A URL on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

interface Machine {
  root: string;
  env: Record<string, string>;
}

/** A machine without disks (or with the given ones) whose metadata service is at url. */
async function machine(url: string, disks: FakeDisk[] = [], root?: string): Promise<Machine> {
  const dir = root ?? (await tmpdir());
  const fake = await fakeMachine(dir, disks);
  await mkdir(path.join(dir, 'tmp'), { recursive: true });
  return {
    root: dir,
    env: { ...fake.env, UCVM_METADATA_URL: url, TMPDIR: path.join(dir, 'tmp') },
  };
}

function run(m: Machine, script: string, args: string[] = [], env: Record<string, string> = {}) {
  return sh({
    bin,
    libs: ['userdata.sh', 'disks.sh', 'context.sh'],
    script: `${FAKE_MOUNT}\n${script}`,
    args,
    env: { ...m.env, ...env },
    cwd: m.root,
  });
}

const collect = (m: Machine, out: string, env: Record<string, string> = {}) =>
  run(m, 'ucvm_context_collect "$1"', [out], env);

function read(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), 'utf8');
}

describe('context drives (busybox sh)', () => {
  it('reads a NoCloud and a config drive layout, and nothing else', async () => {
    const root = await tmpdir({
      'nocloud/user-data': `${BLOCK.join('\n')}\n`,
      'nocloud/meta-data': 'instance-id: i-1\n',
      'configdrive/openstack/latest/user_data': 'config drive data\n',
      'configdrive/openstack/latest/meta_data.json': '{}',
      'bare/openstack/latest/meta_data.json': '{}',
      'other/README': 'not a context drive',
      'secret/etc/shadow': 'root:x:',
    });
    await mkdir(path.join(root, 'linked'));
    await symlink(path.join(root, 'secret/etc/shadow'), path.join(root, 'linked/user-data'));
    const m = await machine(await closedPort(), [], root);
    const outs: Record<string, { status: number; err: string }> = {};
    for (const name of ['nocloud', 'configdrive', 'bare', 'other', 'linked']) {
      const out = path.join(root, `out-${name}`);
      await mkdir(out);
      const result = await run(m, 'ucvm_context_from_dir "$1" "$2"', [path.join(root, name), out]);
      outs[name] = { status: result.status, err: result.err };
    }
    expect(read(root, 'out-nocloud/user-data')).toBe(`${BLOCK.join('\n')}\n`);
    expect(read(root, 'out-nocloud/meta-data')).toBe('instance-id: i-1\n');
    expect(read(root, 'out-nocloud/source')).toBe('NoCloud\n');
    expect(read(root, 'out-configdrive/user-data')).toBe('config drive data\n');
    expect(read(root, 'out-configdrive/source')).toBe('ConfigDrive\n');
    // A config drive without user data: the cloud is found, its user data empty.
    expect(read(root, 'out-bare/user-data')).toBe('');
    expect(read(root, 'out-bare/source')).toBe('ConfigDrive\n');
    expect(outs.other?.status).toBe(1);
    expect(existsSync(path.join(root, 'out-other/source'))).toBe(false);
    expect(read(root, 'out-linked/user-data')).toBe('');
    expect(outs.linked?.err).toContain('user-data is a symbolic link (ignored)');
  });

  it('finds the drives by their iso9660 or vfat label, a NoCloud one first', async () => {
    const root = await tmpdir({
      'dev/sr0.d/openstack/latest/user_data': 'from the config drive\n',
      'dev/vdb.d/user-data': `${BLOCK.join('\n')}\n`,
      'dev/vdb.d/meta-data': 'instance-id: i-2\n',
      'dev/vda.d/user-data': 'from an ext file system labelled cidata\n',
    });
    const dev = path.join(root, 'dev');
    execFileSync(
      'xorriso',
      [
        '-as',
        'mkisofs',
        '-quiet',
        '-V',
        'config-2',
        '-o',
        path.join(dev, 'sr0'),
        path.join(dev, 'sr0.d'),
      ],
      { stdio: 'ignore' },
    );
    execFileSync('mkfs.vfat', ['-C', '-n', 'CIDATA', path.join(dev, 'vdb'), '8192'], {
      stdio: 'ignore',
    });
    const vda = await open(path.join(dev, 'vda'), 'w');
    await vda.truncate(16 * 1024 * 1024);
    await vda.close();
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'cidata', path.join(dev, 'vda')], {
      stdio: 'ignore',
    });
    const disks = [{ name: 'sr0', scsiType: 5, ro: true }, { name: 'vda' }, { name: 'vdb' }];
    const m = await machine(await closedPort(), disks, root);
    const first = await collect(m, path.join(root, 'out'));
    expect(first.out).toBe('NoCloud\n');
    expect(read(root, 'out/user-data')).toBe(`${BLOCK.join('\n')}\n`);
    expect(read(root, 'out/meta-data')).toBe('instance-id: i-2\n');
    expect(read(root, 'out/ucontext')).toBe(PARSED);

    // The NoCloud drive detached: the config drive is next.
    await rm(path.join(root, 'sys/block/vdb'), { recursive: true });
    const second = await collect(m, path.join(root, 'out2'));
    expect(second.out).toBe('ConfigDrive\n');
    expect(read(root, 'out2/user-data')).toBe('from the config drive\n');
    expect(read(root, 'out2/ucontext')).toBe('');
  });
});

describe('the metadata service (busybox sh, wget)', () => {
  it('takes gzip-compressed EC2 user data as given, and parses it', async () => {
    const site = await tmpdir({ 'latest/user-data': gzipSync(`${BLOCK.join('\r\n')}\r\n`) });
    const server = await serveDirectory(site);
    onTestFinished(() => server.close());
    const m = await machine(server.url);
    const result = await collect(m, path.join(m.root, 'out'));
    expect(result.out).toBe('EC2\n');
    expect(result.err).toBe('');
    expect(readFileSync(path.join(m.root, 'out/user-data'))).toEqual(
      readFileSync(path.join(site, 'latest/user-data')),
    );
    expect(read(m.root, 'out/ucontext')).toBe(PARSED);
    expect(server.requests).toEqual([
      '/',
      '/openstack/latest/user_data',
      '/openstack/latest/meta_data.json',
      '/latest/user-data',
    ]);
  });

  it('asks OpenStack first, and reads CRLF user data without a last newline', async () => {
    const site = await tmpdir({
      'openstack/latest/user_data': BLOCK.join('\r\n'),
      'latest/user-data': 'the EC2 view of the same cloud\n',
    });
    const server = await serveDirectory(site);
    onTestFinished(() => server.close());
    const m = await machine(server.url);
    const result = await collect(m, path.join(m.root, 'out'));
    expect(result.out).toBe('OpenStack\n');
    expect(read(m.root, 'out/user-data')).toBe(BLOCK.join('\r\n'));
    expect(read(m.root, 'out/ucontext')).toBe(PARSED);
  });

  it('counts a cloud without user data as found (a 404 for user data, its meta-data there)', async () => {
    const site = await tmpdir({ 'latest/meta-data/instance-id': 'i-0123\n' });
    const server = await serveDirectory(site);
    onTestFinished(() => server.close());
    const m = await machine(server.url);
    const result = await collect(m, path.join(m.root, 'out'));
    expect(result.out).toBe('EC2\n');
    expect(read(m.root, 'out/user-data')).toBe('');
    expect(read(m.root, 'out/ucontext')).toBe('');
    expect(server.requests.slice(-2)).toEqual([
      '/latest/user-data',
      '/latest/meta-data/instance-id',
    ]);
    expect(existsSync(path.join(m.root, 'out/.meta'))).toBe(false);
    expect(existsSync(path.join(m.root, 'out/.probe'))).toBe(false);
  });

  it('gives up fast without a metadata service: a closed port, or one that never answers', async () => {
    const closed = await machine(await closedPort());
    const refused = await collect(closed, path.join(closed.root, 'out'));
    expect(refused.out).toBe('none\n');
    expect(refused.err).toBe(
      `ucernvm: context: no metadata service at ${closed.env.UCVM_METADATA_URL}\n`,
    );
    expect(refused.ms).toBeLessThan(1500);
    expect(read(closed.root, 'out/user-data')).toBe('');
    expect(read(closed.root, 'out/ucontext')).toBe('');

    const silent = await machine(await silentServer());
    const timedOut = await collect(silent, path.join(silent.root, 'out'), {
      UCVM_METADATA_PROBE_TIMEOUT: '1',
    });
    expect(timedOut.out).toBe('none\n');
    expect(timedOut.ms).toBeGreaterThanOrEqual(900);
    expect(timedOut.ms).toBeLessThan(3000);
  });
});

describe('the context on later boots (busybox sh)', () => {
  it('re-reads the first boot context from the scratch disk, whatever the sources say now', async () => {
    const site = await tmpdir({ 'latest/user-data': `${BLOCK.join('\n')}\n` });
    const server = await serveDirectory(site);
    onTestFinished(() => server.close());
    const m = await machine(server.url);
    const kept = path.join(m.root, 'scratch/context');
    const first = await run(m, 'ucvm_context_collect "$1" && ucvm_context_persist "$1" "$2"', [
      path.join(m.root, 'run1'),
      kept,
    ]);
    expect(first.status).toBe(0);
    expect(read(kept, 'source')).toBe('EC2\n');
    expect(read(kept, 'ucontext')).toBe(PARSED);

    await writeFile(
      path.join(site, 'latest/user-data'),
      '[ucernvm-begin]\ncvmfs_tag=cernvm-system-9.9.9\n[ucernvm-end]\n',
    );
    server.requests.length = 0;
    const later = await run(m, 'ucvm_context_restore "$1" "$2"', [kept, path.join(m.root, 'run2')]);
    expect(later.status).toBe(0);
    expect(later.out).toBe('EC2\n');
    expect(read(m.root, 'run2/ucontext')).toBe(PARSED);
    expect(read(m.root, 'run2/user-data')).toBe(`${BLOCK.join('\n')}\n`);
    expect(server.requests).toEqual([]);

    // Nothing kept (a first boot stopped before persisting): restore fails, the caller collects.
    const none = await run(m, 'ucvm_context_restore "$1" "$2"', [
      path.join(m.root, 'scratch/empty'),
      path.join(m.root, 'run3'),
    ]);
    expect(none.status).toBe(1);
  });

  it('never runs a value: hostile user data is refused with a message, and the boot goes on', async () => {
    const marker = path.join('/tmp', `ucvm-pwned-${randomBytes(6).toString('hex')}`);
    const hostile = [
      '[ucernvm-begin]',
      `cvmfs_tag=$(touch ${marker})`,
      `cvmfs_branch=\`touch ${marker}\``,
      `cvmfs_http_proxy=DIRECT;touch ${marker}`,
      'cvmfs_tag=cernvm-system-1.0.0',
      '[ucernvm-end]',
      '',
    ].join('\n');
    const site = await tmpdir({ 'openstack/latest/user_data': hostile });
    const server = await serveDirectory(site);
    onTestFinished(() => server.close());
    const m = await machine(server.url);
    const kept = path.join(m.root, 'kept');
    const first = await run(m, 'ucvm_context_collect "$1" && ucvm_context_persist "$1" "$2"', [
      path.join(m.root, 'out'),
      kept,
    ]);
    expect(first.status).toBe(0);
    expect(first.out).toBe('OpenStack\n');
    expect(read(m.root, 'out/ucontext')).toBe('cvmfs_tag=cernvm-system-1.0.0\n');
    expect(first.err.trim().split('\n')).toEqual([
      'ucernvm: context: line 2: cvmfs_tag: not a tag name (ignored)',
      'ucernvm: context: line 3: cvmfs_branch: not a repository name (ignored)',
      'ucernvm: context: line 4: cvmfs_http_proxy: not a proxy list (ignored)',
    ]);

    // The scratch disk is the OS's to write: what a later boot reads from it is checked again.
    await writeTree(kept, {
      source: `$(touch ${marker})\n`,
      ucontext: `cvmfs_tag=$(touch ${marker})\ncvmfs_branch=evil.example.org\n`,
    });
    const later = await run(m, 'ucvm_context_restore "$1" "$2"', [
      kept,
      path.join(m.root, 'later'),
    ]);
    expect(later.status).toBe(0);
    expect(later.out).toBe('none\n');
    expect(later.err).toContain('names no known source (taken as none)');
    expect(read(m.root, 'later/ucontext')).toBe('cvmfs_tag=cernvm-system-1.0.0\n');
    expect(existsSync(marker)).toBe(false);
  });
});
