import { lstat, mkdir, readdir, readFile, readlink, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addExtraFiles } from '../../src/template/extra-files.js';
import { clampMtimes } from '../../src/reproducible/mtimes.js';
import { cleanTree } from '../../src/template/reproducible.js';
import { resolveDirInTree, resolveInTree } from '../../src/reproducible/tree-paths.js';
import { isUcvmError } from '../../src/errors.js';
import { tmpdir } from '../helpers/tmp.js';

const epoch = 1_600_000_000;

describe('resolveInTree', () => {
  it('follows symlinks inside the tree, absolute ones from the tree root', async () => {
    const root = await tmpdir({ 'usr/lib/x': '', 'srv/data/y': '' });
    await symlink('usr/lib', path.join(root, 'lib'));
    await symlink('/srv/data', path.join(root, 'opt'));
    await symlink('../../..', path.join(root, 'usr/lib/up'));
    expect(await resolveInTree(root, '/lib/a.conf')).toBe(path.join(root, 'usr/lib/a.conf'));
    expect(await resolveInTree(root, '/opt/sub/b')).toBe(path.join(root, 'srv/data/sub/b'));
    // ".." never climbs above the tree root.
    expect(await resolveInTree(root, '/lib/up/etc/c')).toBe(path.join(root, 'etc/c'));
  });

  it('refuses a path whose last component is . or .. (it would name the root or climb above it)', async () => {
    const root = await tmpdir({ 'etc/x': '' });
    for (const treePath of ['/etc/..', '/..', '/etc/.', '/']) {
      const error: unknown = await resolveInTree(root, treePath).catch((caught: unknown) => caught);
      expect(isUcvmError(error, 'TREE_INVALID'), `${treePath}: ${String(error)}`).toBe(true);
    }
    expect(await resolveDirInTree(root, '/etc/..')).toBe(root);
    expect(await resolveDirInTree(root, '/..')).toBe(root);
  });
});

describe('addExtraFiles', () => {
  it('replaces a symlink instead of writing through it, and never leaves the tree', async () => {
    const outside = await tmpdir();
    const root = await tmpdir({ 'run/placeholder': '' });
    await mkdir(path.join(root, 'etc'));
    await symlink(path.join(outside, 'resolv.conf'), path.join(root, 'etc/resolv.conf'));
    await symlink(outside, path.join(root, 'data'));
    await addExtraFiles(
      root,
      [
        { path: '/etc/resolv.conf', mode: 0o644, content: Buffer.from('nameserver 10.0.0.1\n') },
        { path: '/data/tool', mode: 0o4755, content: Buffer.from('#!/bin/sh\n') },
      ],
      epoch,
    );
    expect(await readdir(outside)).toEqual([]);
    const resolv = await lstat(path.join(root, 'etc/resolv.conf'));
    expect(resolv.isFile()).toBe(true);
    expect(resolv.mtimeMs).toBe(epoch * 1000);
    // The absolute link /data resolves inside the tree: root + the link's target.
    const tool = await lstat(path.join(root, outside, 'tool'));
    expect(tool.mode & 0o7777).toBe(0o4755);
  });

  it('refuses to replace a directory', async () => {
    const root = await tmpdir({ 'etc/motd/inner': '' });
    const error: unknown = await addExtraFiles(
      root,
      [{ path: '/etc/motd', mode: 0o644, content: Buffer.from('x') }],
      epoch,
    ).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'BUILD_FAILED')).toBe(true);
  });
});

describe('cleanTree and clampMtimes', () => {
  it('removes logs, caches, keys and build-machine files that no package ships', async () => {
    const root = await tmpdir({
      'var/lib/dpkg/info/pkg.list':
        '/.\n/var\n/var/log\n/var/log/shipped.log\n/etc\n/etc/hostname\n',
      'var/lib/dpkg/status-old': 'old',
      'var/log/shipped.log': 'kept',
      'var/log/apt/history.log': 'x',
      'var/log/dpkg.log': 'x',
      'var/cache/apt/pkgcache.bin': 'x',
      'var/cache/apt/archives/a.deb': 'x',
      'var/lib/apt/lists/host_dists_stable_InRelease': 'x',
      'var/cache/ldconfig/aux-cache': 'x',
      'var/lib/dbus/machine-id': '0123',
      'etc/machine-id': '0123456789abcdef\n',
      'etc/hostname': 'shipped\n',
      'etc/resolv.conf': 'nameserver 10.255.255.53\n',
      'etc/.pwd.lock': '',
      'etc/ssh/ssh_host_ed25519_key': 'secret',
      'etc/ssh/ssh_host_ed25519_key.pub': 'public',
      'etc/ssh/sshd_config': 'kept',
      'etc/apt/sources.list': 'deb [trusted=yes] copy:///tmp/ucvm-build-x/repo stable main\n',
      'dev/null': '',
      'tmp/scratch': '',
      'run/lock/x': '',
    });
    await cleanTree(root);
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else files.push(`/${path.relative(root, full)}`);
      }
    };
    await walk(root);
    expect(files.sort()).toEqual([
      '/etc/apt/sources.list',
      '/etc/hostname',
      '/etc/machine-id',
      '/etc/ssh/sshd_config',
      '/var/lib/dpkg/info/pkg.list',
      '/var/log/shipped.log',
    ]);
    expect(await readFile(path.join(root, 'etc/machine-id'), 'utf8')).toBe('');
    expect(await readFile(path.join(root, 'etc/apt/sources.list'), 'utf8')).not.toContain(
      'copy://',
    );
    expect(await readdir(path.join(root, 'var/log'))).toEqual(['apt', 'shipped.log']);
  });

  it('sets newer mtimes and those written since the start to SOURCE_DATE_EPOCH, symlinks included', async () => {
    const root = await tmpdir({ 'old/file': 'x', 'new/file': 'y', 'new/during': 'z' });
    await symlink('file', path.join(root, 'new/link'));
    // Fixed times, not the clock: the build started 500 s before SOURCE_DATE_EPOCH; one file
    // is older than the start (kept), one was written after it but dated before the epoch.
    const startedAt = (epoch - 500) * 1000;
    const before = epoch - 1000;
    await utimes(path.join(root, 'old/file'), before, before);
    await utimes(path.join(root, 'new/during'), epoch - 100, epoch - 100);
    const changed = await clampMtimes(root, epoch, startedAt);
    const mtime = async (relative: string) =>
      (await lstat(path.join(root, relative))).mtimeMs / 1000;
    expect(await mtime('old/file')).toBe(before);
    for (const entry of ['', 'old', 'new', 'new/file', 'new/during', 'new/link'])
      expect(await mtime(entry)).toBe(epoch);
    expect(await readlink(path.join(root, 'new/link'))).toBe('file');
    expect(changed).toBe(6);
  });
});
