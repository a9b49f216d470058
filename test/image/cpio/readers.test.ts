import { lstat, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/exec/index.js';
import { writeCpioFile } from '../../../src/image/cpio/index.js';
import { tmpdir } from '../../helpers/tmp.js';
import { busyboxBytes, epoch, hostBytes, initScript, sampleEntries, sha256 } from './fixtures.js';

const env = { TZ: 'UTC', LC_ALL: 'C.UTF-8' };

/** GNU cpio's listing of the sample, as `mode nlink uid gid size-or-device name`. */
const expectedListing = [
  'drwxr-xr-x 6 0 0 0 .',
  'lrwxrwxrwx 1 0 0 7 bin -> usr/bin',
  'drwxr-xr-x 2 0 0 0 dev',
  'crw------- 1 0 0 5,1 dev/console',
  'crw-rw-rw- 1 0 0 1,3 dev/null',
  'brw-rw---- 1 0 6 254,0 dev/vda',
  'drwxr-xr-x 3 0 0 0 etc',
  '-rw-r--r-- 1 0 0 0 etc/empty',
  '-rw-r--r-- 1 0 0 7 etc/motd-ü',
  'drwxr-xr-x 2 0 0 0 etc/ucvm',
  '-rw-r--r-- 1 0 0 70001 etc/ucvm/repository.pub',
  '-rwxr-xr-x 1 0 0 31 init',
  'drwxr-xr-x 3 0 0 0 usr',
  'drwxr-xr-x 2 0 0 0 usr/bin',
  // One inode, three names: the data travels with the last of them.
  '-rwsr-xr-x 3 0 0 0 usr/bin/ash',
  '-rwsr-xr-x 3 0 0 0 usr/bin/busybox',
  '-rwsr-xr-x 3 0 0 200003 usr/bin/sh',
  'drwxr-xr-x 3 0 0 0 var',
  'drwxr-xr-x 3 0 0 0 var/lib',
  'drwx------ 2 1000 1000 0 var/lib/state',
];

const listingLine =
  /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+,\s*\d+|\d+)\s+(\w{3}\s+\d+\s+\d{4})\s(.*)$/;

/** `ls -l`-style lines (GNU cpio, bsdtar) as expectedListing's fields; every date must be the epoch's. */
function normalizeListing(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => {
      const match = listingLine.exec(line);
      expect(match, line).not.toBeNull();
      const [, mode, nlink, uid, gid, size, date, name] = match ?? [];
      expect(date?.replace(/\s+/g, ' '), line).toBe('Sep 13 2020');
      return [mode, nlink, uid, gid, size?.replace(/\s+/g, ''), name].join(' ');
    });
}

async function sampleArchive(): Promise<{ dir: string; archive: string }> {
  const dir = await tmpdir();
  const archive = path.join(dir, 'initramfs.cpio');
  await writeCpioFile(await sampleEntries(dir), archive, { sourceDateEpoch: epoch });
  return { dir, archive };
}

/** Major and minor of a Linux dev_t. */
function deviceNumbers(rdev: number): string {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  return `${major}:${minor}`;
}

/** What a reader extracted: contents, modes, owners, link targets, devices, mtimes, inodes. */
async function checkExtracted(root: string, reader: string): Promise<void> {
  const at = (name: string): string => path.join(root, name);
  expect(sha256(await readFile(at('init')))).toBe(sha256(initScript));
  expect(sha256(await readFile(at('usr/bin/sh')))).toBe(sha256(busyboxBytes));
  expect(sha256(await readFile(at('etc/ucvm/repository.pub')))).toBe(sha256(hostBytes));
  expect(sha256(await readFile(at('etc/empty')))).toBe(sha256(Buffer.alloc(0)));
  expect(await readFile(at('etc/motd-ü'), 'utf8')).toBe('grüß\n');
  expect(await readlink(at('bin'))).toBe('usr/bin');

  const links = await Promise.all(
    ['ash', 'busybox', 'sh'].map((name) => lstat(at(`usr/bin/${name}`))),
  );
  expect(new Set(links.map((stats) => stats.ino)).size, `${reader}: one inode`).toBe(1);
  expect(links[0]?.nlink).toBe(3);
  expect((links[0]?.mode ?? 0) & 0o7777).toBe(0o4755);

  const console = await lstat(at('dev/console'));
  expect(console.isCharacterDevice()).toBe(true);
  expect(deviceNumbers(console.rdev)).toBe('5:1');
  const vda = await lstat(at('dev/vda'));
  expect(vda.isBlockDevice()).toBe(true);
  expect([deviceNumbers(vda.rdev), vda.mode & 0o7777, vda.gid]).toEqual(['254:0', 0o660, 6]);
  const state = await lstat(at('var/lib/state'));
  expect([state.mode & 0o7777, state.uid, state.gid]).toEqual([0o700, 1000, 1000]);
  const pub = await lstat(at('etc/ucvm/repository.pub'));
  // The host file was 0600; only its bytes were taken.
  expect([pub.mode & 0o7777, pub.mtimeMs]).toEqual([0o644, epoch * 1000]);
}

describe('independent readers of the archive', () => {
  it('GNU cpio lists exactly the entries, with modes, owners, sizes, targets and devices', async () => {
    const { archive } = await sampleArchive();
    const { stdout } = await run('sh', ['-c', 'cpio -itvn --quiet < "$1"', 'sh', archive], { env });
    expect(normalizeListing(stdout)).toEqual(expectedListing);
  });

  it('bsdtar lists the same, the later names of the hard-linked file as links to the first', async () => {
    const { archive } = await sampleArchive();
    const { stdout } = await run('bsdtar', ['-tvnf', archive, '--numeric-owner'], { env });
    const expected = expectedListing.map((line) =>
      /usr\/bin\/(busybox|sh)$/.test(line) ? `${line} link to usr/bin/ash` : line,
    );
    expect(normalizeListing(stdout)).toEqual(expected);
  });

  it('GNU cpio -idm extracts byte-identical contents, hard links as hard links', async () => {
    const { dir, archive } = await sampleArchive();
    const root = path.join(dir, 'extracted');
    await run('sh', [
      '-c',
      'mkdir "$2" && cd "$2" && cpio -idm --quiet < "$1"',
      'sh',
      archive,
      root,
    ]);
    await checkExtracted(root, 'GNU cpio');
  });

  it('busybox cpio reads it: every name listed, and extracted as by GNU cpio', async () => {
    const { dir, archive } = await sampleArchive();
    const { stdout } = await run('sh', ['-c', 'busybox cpio -t < "$1"', 'sh', archive], { env });
    // busybox defers the empty names of a hard-linked file until its data; -t never reaches that.
    const withData = expectedListing
      .map((line) => line.split(' ')[5] ?? '')
      .filter((name) => !['usr/bin/ash', 'usr/bin/busybox'].includes(name));
    expect(stdout.trimEnd().split('\n')).toEqual(withData);

    const root = path.join(dir, 'extracted');
    await run('sh', [
      '-c',
      'mkdir "$2" && cd "$2" && busybox cpio -idm < "$1"',
      'sh',
      archive,
      root,
    ]);
    await checkExtracted(root, 'busybox cpio');
  });
});
