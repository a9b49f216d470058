import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadExtraFiles } from '../../src/template/extra-files.js';
import { readInstalledPackages } from '../../src/template/installed-set.js';
import { cleanTree } from '../../src/template/reproducible.js';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import { tmpdir } from '../helpers/tmp.js';

/**
 * A decoy of the build machine's directories: what a hostile tree's absolute symlinks point
 * at. (Tests run as root: without the fix, these would be the real /run, /var/log and /etc.)
 */
async function decoyHost(): Promise<string> {
  return tmpdir({
    'run/daemon.pid': '42\n',
    'var/log/syslog': 'host log\n',
    'etc/hostname': 'buildhost\n',
    'etc/machine-id': 'host-machine-id\n',
    'etc/apt/sources.list': 'deb http://deb.debian.org/debian bookworm main\n',
    'etc/ssh/ssh_host_ed25519_key': 'host key\n',
  });
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(dir, full)] = readFileSync(full, 'utf8');
    }
  };
  walk(dir);
  return out;
}

async function hostileTree(host: string): Promise<string> {
  const root = await tmpdir({ 'var/lib/dpkg/info/base.list': '/.\n/etc\n' });
  mkdirSync(path.join(root, 'var', 'cache'), { recursive: true });
  symlinkSync(path.join(host, 'run'), path.join(root, 'run'));
  symlinkSync(path.join(host, 'var/log'), path.join(root, 'var/log'));
  symlinkSync(path.join(host, 'etc'), path.join(root, 'etc'));
  return root;
}

describe('the template build never touches the build machine through the tree', () => {
  it('cleans a tree whose /run, /var/log and /etc are absolute symlinks without emptying or writing the host', async () => {
    const host = await decoyHost();
    const before = snapshot(host);
    const root = await hostileTree(host);
    await cleanTree(root);
    expect(snapshot(host)).toEqual(before);
  });

  it('replaces a symlinked sources.list and machine-id inside the tree', async () => {
    const host = await decoyHost();
    const before = snapshot(host);
    const root = await tmpdir({ 'var/lib/dpkg/info/base.list': '/.\n' });
    mkdirSync(path.join(root, 'etc/apt'), { recursive: true });
    symlinkSync(path.join(host, 'etc/apt/sources.list'), path.join(root, 'etc/apt/sources.list'));
    writeFileSync(path.join(root, 'etc/machine-id'), 'abc\n', { mode: 0o444 });
    await cleanTree(root);
    expect(snapshot(host)).toEqual(before);
    expect(readFileSync(path.join(root, 'etc/apt/sources.list'), 'utf8')).toContain(
      'no apt sources',
    );
    expect(readFileSync(path.join(root, 'etc/machine-id'), 'utf8')).toBe('');
    expect(statSync(path.join(root, 'etc/machine-id')).mode & 0o777).toBe(0o444);
  });
});

describe.skipIf(process.getuid?.() !== 0)('the template build and mounts inside the tree', () => {
  it('refuses to clean a tree with a host directory still mounted inside (a bind-mounted /run)', async () => {
    const host = await decoyHost();
    const before = snapshot(host);
    const root = await tmpdir({ 'var/lib/dpkg/info/base.list': '/.\n' });
    mkdirSync(path.join(root, 'run'));
    execFileSync('mount', ['--bind', path.join(host, 'run'), path.join(root, 'run')]);
    onTestFinished(() => {
      execFileSync('umount', ['-l', path.join(root, 'run')]);
    });
    const error: unknown = await cleanTree(root).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'BUILD_FAILED'), String(error)).toBe(true);
    expect((error as UcvmError).details).toContain(path.join(root, 'run'));
    expect(snapshot(host)).toEqual(before);
  });
});

describe('the template build reads the tree, never the build machine, through its links', () => {
  it('refuses a dpkg file list that is a link (here to a host file that would keep resolv.conf)', async () => {
    const host = await tmpdir({ 'owned.list': '/etc/resolv.conf\n' });
    const root = await tmpdir({
      'var/lib/dpkg/info/base.list': '/.\n',
      'etc/resolv.conf': 'nameserver 10.255.255.53\n',
    });
    symlinkSync(path.join(host, 'owned.list'), path.join(root, 'var/lib/dpkg/info/evil.list'));
    const error: unknown = await cleanTree(root).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'TREE_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).toContain('/var/lib/dpkg/info/evil.list');
  });

  it("reads the installed packages from the tree's dpkg database when /var/lib/dpkg is an absolute link", async () => {
    const status = (name: string): string =>
      `Package: ${name}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n` +
      `Maintainer: nobody <nobody@localhost>\nDescription: ${name}\n\n`;
    const host = await tmpdir({ 'dpkg/status': status('host-package') });
    const root = await tmpdir();
    // What the link names inside the tree, as a chroot sees it: <root><host>/dpkg.
    mkdirSync(path.join(root, host, 'dpkg'), { recursive: true });
    writeFileSync(path.join(root, host, 'dpkg/status'), status('tree-package'));
    mkdirSync(path.join(root, 'var/lib'), { recursive: true });
    symlinkSync(path.join(host, 'dpkg'), path.join(root, 'var/lib/dpkg'));
    const installed = await readInstalledPackages(root);
    expect(installed.map((p) => p.name)).toEqual(['tree-package']);
    // A status file that links to the build machine's is not read at all.
    const linked = await tmpdir();
    mkdirSync(path.join(linked, 'var/lib/dpkg'), { recursive: true });
    symlinkSync(path.join(host, 'dpkg/status'), path.join(linked, 'var/lib/dpkg/status'));
    const error: unknown = await readInstalledPackages(linked).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'TREE_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).toContain('/var/lib/dpkg/status');
  });
});

describe('extra files come only from the project', () => {
  it('refuses a source that is a FIFO without waiting for a writer', async () => {
    const project = await tmpdir({ 'files/ok': 'fine\n' });
    const fifo = path.join(project, 'files/pipe');
    execFileSync('mkfifo', [fifo]);
    // Should a reader block in open(), a writer lets it go, so the test process can end.
    onTestFinished(() => {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting: nothing to release
      }
    });
    const error: unknown = await loadExtraFiles(
      [{ path: '/etc/motd', source: 'files/pipe', mode: '0644' }],
      project,
    ).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).toContain('files.0.source');
    expect((error as Error).message).toContain('not a regular file');
  });

  it('refuses a source that is a symlink out of the project (a master key, say)', async () => {
    const keys = await tmpdir({ 'x.masterkey': '-----BEGIN PRIVATE KEY-----\nsecret\n' });
    const project = await tmpdir({ 'files/ok': 'fine\n' });
    symlinkSync(path.join(keys, 'x.masterkey'), path.join(project, 'files/banner'));
    const error: unknown = await loadExtraFiles(
      [{ path: '/etc/motd', source: 'files/banner', mode: '0644' }],
      project,
    ).catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).toContain('files/banner');
    expect(JSON.stringify(error)).not.toContain('secret');
  });

  it('refuses a source that climbs out of the project, and one that is not a regular file', async () => {
    const outside = await tmpdir({ 'secret.txt': 'secret\n' });
    const project = await tmpdir({ 'files/ok': 'fine\n' });
    mkdirSync(path.join(project, 'files/dir'));
    symlinkSync(outside, path.join(project, 'linked'));
    for (const source of [
      `../${path.basename(outside)}/secret.txt`,
      'linked/secret.txt',
      'files/dir',
    ]) {
      const error: unknown = await loadExtraFiles(
        [{ path: '/etc/x', source, mode: '0644' }],
        project,
      ).catch((caught: unknown) => caught);
      expect(isUcvmError(error, 'MANIFEST_INVALID'), `${source}: ${String(error)}`).toBe(true);
    }
    const ok = await loadExtraFiles(
      [{ path: '/etc/x', source: 'files/ok', mode: '0644' }],
      project,
    );
    expect(ok[0]!.content.toString()).toBe('fine\n');
    rmSync(path.join(project, 'linked'));
  });
});
