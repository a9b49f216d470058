import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tmpdir } from '../../helpers/tmp.js';
import { FAKE_MOUNT, type FakeDisk, fakeMachine, initramfsBin, sh } from './busybox.js';

const MiB = 1024 * 1024;

/**
 * The kernel, as far as these tests need it: once a table is written, the disk's partitions
 * appear in sysfs and as device files of their size (separate sparse files: a regular file has
 * no partition devices).
 */
const FAKE_KERNEL = `
ucvm_reread_partitions() {
  sfdisk --dump "$UCVM_DEV/$1" 2>/dev/null |
    sed -n 's/^.*[^0-9]\\([0-9][0-9]*\\) : start= *[0-9]*, size= *\\([0-9]*\\).*/\\1 \\2/p' |
    while read -r n size; do
      case "$1" in *[0-9]) name=$1p$n ;; *) name=$1$n ;; esac
      mkdir -p "$UCVM_SYSFS/block/$1/$name"
      echo "$n" >"$UCVM_SYSFS/block/$1/$name/partition"
      [ -e "$UCVM_DEV/$name" ] || truncate -s $((size * 512)) "$UCVM_DEV/$name"
    done
}`;

let bin = '';
beforeAll(async () => {
  bin = await initramfsBin();
});
afterAll(() => removeDir(bin));

/** Runs a snippet with the disks library on a machine (its env), the test's fake mounts and kernel. */
function run(env: Record<string, string>, script: string, args: string[] = [], cwd?: string) {
  return sh({
    bin,
    libs: ['disks.sh'],
    script: `${FAKE_MOUNT}\n${FAKE_KERNEL}\n${script}`,
    args,
    // The fixtures are small sparse images: the 750 MiB floor for a scratch candidate is tested on its own.
    env: { UCVM_CANDIDATE_MIN_MIB: '1', ...env },
    cwd,
  });
}

// Fixtures, made on the host with the real tools.

async function sparse(file: string, bytes: number): Promise<string> {
  await (await open(file, 'w')).close();
  await resize(file, bytes);
  return file;
}

/** Makes a disk image larger (as a hypervisor grows a disk an image was written to). */
async function resize(file: string, bytes: number): Promise<void> {
  const handle = await open(file, 'r+');
  await handle.truncate(bytes);
  await handle.close();
}

async function writeAt(file: string, offset: number, data: Buffer): Promise<void> {
  const handle = await open(file, 'r+');
  await handle.write(data, 0, data.length, offset);
  await handle.close();
}

/** Deterministic bytes that look random. */
function noise(bytes: number, seed = 'ucvm'): Buffer {
  return createHash('shake256', { outputLength: bytes }).update(seed).digest();
}

function sfdisk(file: string, script: string): void {
  execFileSync('sfdisk', ['-q', file], { input: script, stdio: ['pipe', 'ignore', 'ignore'] });
}

function mkext4(file: string, label: string): void {
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', label, file], { stdio: 'ignore' });
}

function iso(file: string, dir: string, volid: string, hybrid = false): void {
  const extra = hybrid ? ['--protective-msdos-label'] : [];
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', volid, ...extra, '-o', file, dir], {
    stdio: 'ignore',
  });
}

/** sfdisk --dump without the lines that name the file. */
function table(file: string): string {
  return execFileSync('sfdisk', ['--dump', file], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => !line.startsWith('device:'))
    .map((line) => line.replace(file, 'DISK'))
    .join('\n');
}

/** start and size of each partition, from sfdisk --dump. */
function partitions(file: string): { start: number; size: number; type: string }[] {
  return [...table(file).matchAll(/start= *(\d+), size= *(\d+), type=([^,\n]+)/g)].map((m) => ({
    start: Number(m[1]),
    size: Number(m[2]),
    type: m[3] ?? '',
  }));
}

function superblock(file: string): string {
  return execFileSync('dumpe2fs', ['-h', file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

function sha256(file: string, start = 0, length?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const end = length === undefined ? undefined : start + length - 1;
    createReadStream(file, { start, end })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Changes whenever a file is written to: cheaper than hashing a large sparse image. */
async function writes(file: string): Promise<string> {
  const info = await stat(file, { bigint: true });
  return `${info.size}:${info.mtimeNs}`;
}

async function hashes(dev: string, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of names) out[name] = await sha256(path.join(dev, name));
  return out;
}

/**
 * An image as xorriso writes it for booting from a disk too: an iso9660 file system with the
 * volume id UCERNVM and the sentinel, its first sectors an MBR whose partition 1 covers the
 * ISO (about 16 MiB here), written at the start of a larger disk.
 */
async function hybridBootDisk(root: string, file: string, bytes: number): Promise<void> {
  const tree = path.join(root, 'boot-tree');
  await mkdir(tree, { recursive: true });
  await writeFile(path.join(tree, '.ucernvm_boot_loader'), '');
  await writeFile(path.join(tree, 'payload'), noise(15 * MiB + MiB / 2, 'payload'));
  iso(file, tree, 'UCERNVM', true);
  await resize(file, bytes);
}

const KINDS = [
  'empty',
  'ext',
  'mbr',
  'gpt',
  'squashfs',
  'swap',
  'noise',
  'late',
  'iso',
  'hybrid',
  'vfat',
  'vfat32',
  'luks',
  'xfs',
  'btrfs',
  'bareMbr',
  'bareGpt',
] as const;
type Kind = (typeof KINDS)[number];

/** A disk image for each thing a disk can hold, in dir; kind → file. */
async function everyKind(dir: string): Promise<Record<Kind, string>> {
  const f = (name: string) => path.join(dir, name);
  const tree = path.join(dir, 'tree');
  await mkdir(tree, { recursive: true });
  await writeFile(path.join(tree, 'user-data'), '#cloud-config\n');
  const kinds = {} as Record<Kind, string>;
  kinds.empty = await sparse(f('empty'), 16 * MiB);
  kinds.ext = await sparse(f('ext'), 16 * MiB);
  mkext4(kinds.ext, 'data');
  kinds.mbr = await sparse(f('mbr'), 16 * MiB);
  sfdisk(kinds.mbr, 'label: dos\nstart=2048, size=20480, type=83\n');
  kinds.gpt = await sparse(f('gpt'), 16 * MiB);
  sfdisk(kinds.gpt, 'label: gpt\nstart=2048, size=20480, type=L\n');
  kinds.squashfs = f('squashfs');
  execFileSync('mksquashfs', [tree, kinds.squashfs, '-quiet', '-noappend'], { stdio: 'ignore' });
  kinds.swap = await sparse(f('swap'), 16 * MiB);
  execFileSync('mkswap', [kinds.swap], { stdio: 'ignore' });
  kinds.noise = await sparse(f('noise'), 16 * MiB);
  await writeAt(kinds.noise, 0, noise(8192));
  // One non-zero word deep in the first MiB is data too.
  kinds.late = await sparse(f('late'), 16 * MiB);
  await writeAt(kinds.late, 700 * 1024, Buffer.from('data'));
  kinds.iso = f('iso');
  iso(kinds.iso, tree, 'cidata');
  kinds.hybrid = f('hybrid');
  iso(kinds.hybrid, tree, 'UCERNVM', true);
  kinds.vfat = f('vfat');
  execFileSync('mkfs.vfat', ['-C', '-n', 'config-2', kinds.vfat, '8192'], { stdio: 'ignore' });
  kinds.vfat32 = f('vfat32');
  execFileSync('mkfs.vfat', ['-F', '32', '-C', '-n', 'CIDATA', kinds.vfat32, '65536'], {
    stdio: 'ignore',
  });
  kinds.luks = await sparse(f('luks'), 16 * MiB);
  await writeAt(kinds.luks, 0, Buffer.from('4c554b53babe0002', 'hex'));
  kinds.xfs = await sparse(f('xfs'), 16 * MiB);
  await writeAt(kinds.xfs, 0, Buffer.from('XFSB'));
  kinds.btrfs = await sparse(f('btrfs'), 16 * MiB);
  await writeAt(kinds.btrfs, 65600, Buffer.from('_BHRfS_M'));
  // Disks a cloud initialised: a table with no partitions (an MBR with boot code, a GPT).
  kinds.bareMbr = await sparse(f('bareMbr'), 16 * MiB);
  sfdisk(kinds.bareMbr, 'label: dos\n');
  await writeAt(kinds.bareMbr, 0, noise(440, 'boot code'));
  kinds.bareGpt = await sparse(f('bareGpt'), 16 * MiB);
  sfdisk(kinds.bareGpt, 'label: gpt\n');
  return kinds;
}

describe('what a disk holds, read from its bytes (busybox sh)', () => {
  it('names every file system, table and signature, and calls empty only what holds nothing', async () => {
    const dir = await tmpdir();
    await everyKind(dir);
    await writeFile(path.join(dir, 'short'), 'too short for a sector');
    const names = [...KINDS];
    const { out } = await run(
      {},
      `for f in "$@"; do printf '%s %s\\n' "\${f##*/}" "$(ucvm_probe "$f" 2>/dev/null || echo FAILED)"; done`,
      [...names.map((n) => path.join(dir, n)), path.join(dir, 'short')],
    );
    expect(out.trim().split('\n')).toEqual([
      'empty empty',
      'ext ext',
      'mbr mbr',
      'gpt gpt',
      'squashfs squashfs',
      'swap swap',
      'noise unknown',
      'late unknown',
      'iso iso9660',
      'hybrid iso9660',
      'vfat vfat',
      'vfat32 vfat',
      'luks luks',
      'xfs xfs',
      'btrfs btrfs',
      'bareMbr empty',
      'bareGpt empty',
      'short FAILED',
    ]);
  });

  it('reads ext labels, iso9660 volume ids and FAT labels', async () => {
    const dir = await tmpdir();
    const kinds = await everyKind(dir);
    const noLabel = path.join(dir, 'nolabel');
    execFileSync('mkfs.vfat', ['-C', noLabel, '8192'], { stdio: 'ignore' });
    const files = [
      kinds.ext,
      kinds.iso,
      kinds.hybrid,
      kinds.vfat,
      kinds.vfat32,
      noLabel,
      kinds.mbr,
    ];
    const { out } = await run(
      {},
      `for f in "$@"; do printf '[%s]\\n' "$(ucvm_fs_label "$f" || echo NONE)"; done
       ucvm_ext_label "$1"; ucvm_ext_label "$2" || echo 'not ext'`,
      files,
    );
    expect(out.trim().split('\n')).toEqual([
      '[data]',
      '[cidata]',
      '[UCERNVM]',
      '[config-2]',
      '[CIDATA]',
      '[]',
      '[NONE]',
      'data',
      'not ext',
    ]);
  });
});

describe('the disks of a machine, from sysfs (busybox sh)', () => {
  it('knows partitions by their partition file, not their names, and skips what is no scratch', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    for (const name of ['nvme0n1', 'nvme1n1', 'mmcblk0', 'mmcblk0boot0', 'sdb', 'sr0', 'loop0']) {
      await sparse(path.join(dev, name), 64 * MiB);
    }
    await sparse(path.join(dev, 'fd0'), 1474560);
    await sparse(path.join(dev, 'nvme0n1p2'), 32 * MiB);
    mkext4(path.join(dev, 'nvme0n1p2'), 'UROOT');
    await sparse(path.join(dev, 'mmcblk0p1'), 32 * MiB);
    mkext4(path.join(dev, 'mmcblk0p1'), 'UROOT');
    const disks: FakeDisk[] = [
      { name: 'fd0', removable: true },
      { name: 'loop0', virtual: true },
      { name: 'zram0', virtual: true, sectors: 0 },
      { name: 'mmcblk0', partitions: [{ name: 'mmcblk0p1', number: 1, ro: true }] },
      { name: 'mmcblk0boot0', ro: true },
      {
        name: 'nvme0n1',
        partitions: [
          { name: 'nvme0n1p10', number: 10 },
          { name: 'nvme0n1p2', number: 2 },
          { name: 'nvme0n1p1', number: 1 },
        ],
      },
      { name: 'nvme1n1' },
      { name: 'sdb', ro: true },
      { name: 'sdc', sectors: 0 },
      { name: 'sr0', scsiType: 5 },
    ];
    const machine = await fakeMachine(root, disks);
    const { out } = await run(
      machine.env,
      `echo "disks: $(ucvm_disks | tr '\\n' ' ')"
       echo "candidates: $(ucvm_block_devices | tr '\\n' ' ')"
       for d in nvme0n1 mmcblk0 nvme1n1; do echo "$d: $(ucvm_partitions "$d" | tr '\\n' ' ')"; done
       echo "empty: $(ucvm_find_empty_disk)"
       echo "scratch: $(ucvm_find_scratch UROOT)"`,
    );
    expect(out.split('\n')).toEqual([
      'disks: fd0 mmcblk0 mmcblk0boot0 nvme0n1 nvme1n1 sdb sr0 ',
      'candidates: mmcblk0 nvme0n1 nvme1n1 ',
      'nvme0n1: nvme0n1p1 nvme0n1p2 nvme0n1p10 ',
      'mmcblk0: mmcblk0p1 ',
      'nvme1n1: ',
      // mmcblk0 reads as zeros but has a partition; nvme1n1 ends in a digit and is a disk.
      'empty: nvme1n1',
      // mmcblk0p1 is labelled UROOT too, but read-only.
      `scratch: ${path.join(dev, 'nvme0n1p2')}`,
      '',
    ]);
  });

  it('never takes a partition or disk smaller than the scratch needs, such as the gap of a hybrid ISO', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    // A boot disk as a hybrid ISO leaves it: a small gap partition of zeros; and a small empty disk.
    await sparse(path.join(dev, 'vda'), 64 * MiB);
    await sparse(path.join(dev, 'vda3'), 2 * MiB);
    await sparse(path.join(dev, 'vdb'), 64 * MiB);
    const machine = await fakeMachine(root, [
      { name: 'vda', partitions: [{ name: 'vda3', number: 3 }] },
      { name: 'vdb' },
    ]);
    const probe = 'ucvm_find_empty_partition "" || echo none; ucvm_find_empty_disk "" || echo none';
    const floor = { ...machine.env, UCVM_CANDIDATE_MIN_MIB: '750' };
    expect((await run(floor, probe)).out).toBe('none\nnone\n');
    // The same machine with the floor lowered, as the other tests run: both are candidates.
    expect((await run(machine.env, probe)).out).toBe('vda vda3\nvdb\n');
  });

  it('compares labels as text and never runs one', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    await sparse(path.join(dev, 'vda'), 32 * MiB);
    mkext4(path.join(dev, 'vda'), '$(touch pwned)');
    const machine = await fakeMachine(root, [{ name: 'vda' }]);
    const missing = await run(machine.env, 'ucvm_find_scratch UROOT', [], root);
    expect(missing.status).toBe(1);
    const found = await run(machine.env, 'ucvm_find_scratch "$1"', ['$(touch pwned)'], root);
    expect(found.out).toBe(`${path.join(dev, 'vda')}\n`);
    const label = await run(machine.env, 'ucvm_fs_label "$UCVM_DEV/vda"', [], root);
    expect(label.out).toBe('$(touch pwned)\n');
    expect(existsSync(path.join(root, 'pwned'))).toBe(false);
  });
});

describe('preparing the scratch on the first boot (busybox sh)', () => {
  it('partitions and formats an empty disk, and leaves every disk holding something as it was', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    const kinds = await everyKind(path.join(root, 'kinds'));
    const holding = {
      sda: kinds.ext,
      sdb: kinds.mbr,
      sdc: kinds.gpt,
      sdd: kinds.squashfs,
      sde: kinds.swap,
      sdf: kinds.noise,
      sdg: kinds.late,
      sdh: kinds.luks,
    };
    for (const [name, file] of Object.entries(holding)) {
      execFileSync('cp', ['--sparse=always', file, path.join(dev, name)]);
    }
    for (const name of ['sdi', 'sdj', 'sr0', 'loop0', 'vdb']) {
      await sparse(path.join(dev, name), 16 * MiB);
    }
    await sparse(path.join(dev, 'vda'), 64 * MiB);
    // The kernel read no table on sdb and sdc: their bytes alone must keep them.
    const machine = await fakeMachine(root, [
      ...Object.keys(holding).map((name) => ({ name })),
      { name: 'sdi', ro: true },
      { name: 'sdj', removable: true },
      { name: 'sr0', scsiType: 5 },
      { name: 'loop0', virtual: true },
      { name: 'vda' },
      { name: 'vdb' },
    ]);
    const untouched = [...Object.keys(holding), 'sdi', 'sdj', 'sr0', 'loop0', 'vdb'];
    const before = await hashes(dev, untouched);
    const empty = await run(machine.env, 'ucvm_find_empty_disk');
    expect(empty.out).toBe('vda\n');

    const first = await run(machine.env, 'ucvm_prepare_scratch UROOT');
    expect(first.err).toBe('ucernvm: scratch: partitioning the empty disk vda\n');
    expect(first.status).toBe(0);
    expect(first.out).toBe(`${path.join(dev, 'vda1')}\n`);
    expect(table(path.join(dev, 'vda'))).toContain('label: dos');
    expect(partitions(path.join(dev, 'vda'))).toEqual([
      { start: 2048, size: 64 * 2048 - 2048, type: '83' },
    ]);
    const sb = superblock(path.join(dev, 'vda1'));
    expect(sb).toMatch(/^Filesystem volume name: +UROOT$/m);
    expect(sb).toMatch(/^Filesystem features:.*\bhas_journal\b.*\bextent\b/m);
    expect(sb).toMatch(/^Maximum mount count: +-1$/m);
    expect(sb).toMatch(/^Check interval: +0 /m);
    expect(await hashes(dev, untouched)).toEqual(before);

    // A later boot finds it by its label and partitions nothing.
    const disk = await writes(path.join(dev, 'vda'));
    const again = await run(machine.env, 'ucvm_find_scratch UROOT || ucvm_prepare_scratch UROOT');
    expect(again.out).toBe(`${path.join(dev, 'vda1')}\n`);
    expect(again.err).toBe('');
    expect(await writes(path.join(dev, 'vda'))).toBe(disk);
    expect(await hashes(dev, untouched)).toEqual(before);
  });

  it('writes a DOS table below 2 TiB and a GPT from 2 TiB', async () => {
    const dir = await tmpdir();
    const small = await sparse(path.join(dir, 'small'), 1024 * MiB);
    const large = await sparse(path.join(dir, 'large'), 3 * 1024 * 1024 * MiB);
    const bare = await sparse(path.join(dir, 'bare'), 64 * MiB);
    sfdisk(bare, 'label: gpt\n');
    const { out, status } = await run({}, 'for f in "$@"; do ucvm_partition_disk "$f"; done', [
      small,
      large,
      bare,
    ]);
    expect(status).toBe(0);
    expect(out).toBe('1\n1\n1\n');
    expect(table(small)).toContain('label: dos');
    expect(partitions(small)).toEqual([{ start: 2048, size: 1024 * 2048 - 2048, type: '83' }]);
    expect(table(large)).toContain('label: gpt');
    expect(partitions(large)).toHaveLength(1);
    expect(partitions(large)[0]?.type).toBe('0FC63DAF-8483-4772-8E79-3D69D8477DE4');
    // The old GPT of a disk a cloud initialised is replaced, backup header included.
    expect(table(bare)).toContain('label: dos');
    const zeros = createHash('sha256')
      .update(Buffer.alloc(33 * 512))
      .digest('hex');
    expect(await sha256(bare, 64 * MiB - 33 * 512, 33 * 512)).toBe(zeros);
  });

  it('adds a partition to the boot disk when there is no empty disk, keeping its own bytes', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    const sda = path.join(dev, 'sda');
    await hybridBootDisk(root, sda, 1024 * MiB);
    await sparse(path.join(dev, 'sdb'), 64 * MiB);
    mkext4(path.join(dev, 'sdb'), 'data');
    const machine = await fakeMachine(root, [
      { name: 'sda', partitions: [{ name: 'sda1', number: 1 }] },
      { name: 'sdb' },
    ]);
    const [own] = partitions(sda);
    if (own === undefined) throw new Error('xorriso wrote no partition');
    expect(own.start + own.size).toBeGreaterThan(15 * 2048);
    const ownBytes = await sha256(sda, own.start * 512, own.size * 512);
    const data = await sha256(path.join(dev, 'sdb'));

    const boot = await run(machine.env, 'ucvm_boot_disk');
    expect(boot.out).toBe('sda\n');
    const first = await run(machine.env, 'ucvm_prepare_scratch UROOT');
    expect(first.err).toBe('ucernvm: scratch: adding a partition to the boot disk sda\n');
    expect(first.out).toBe(`${path.join(dev, 'sda2')}\n`);
    const start = Math.ceil((own.start + own.size) / 2048) * 2048;
    // Aligned to 1 MiB, 20 MiB left free at the end.
    expect(partitions(sda)).toEqual([
      own,
      { start, size: 1024 * 2048 - 20 * 2048 - start, type: '83' },
    ]);
    expect(await sha256(sda, own.start * 512, own.size * 512)).toBe(ownBytes);
    expect(superblock(path.join(dev, 'sda2'))).toMatch(/^Filesystem volume name: +UROOT$/m);
    expect(await sha256(path.join(dev, 'sdb'))).toBe(data);

    const disk = await writes(sda);
    const again = await run(machine.env, 'ucvm_find_scratch UROOT || ucvm_prepare_scratch UROOT');
    expect(again.out).toBe(`${path.join(dev, 'sda2')}\n`);
    expect(again.err).toBe('');
    expect(await writes(sda)).toBe(disk);
  });

  it('takes the boot disk over an empty disk with use_boothd', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    await hybridBootDisk(root, path.join(dev, 'sda'), 1024 * MiB);
    await sparse(path.join(dev, 'vdb'), 64 * MiB);
    const machine = await fakeMachine(root, [
      { name: 'sda', partitions: [{ name: 'sda1', number: 1 }] },
      { name: 'vdb' },
    ]);
    const empty = await sha256(path.join(dev, 'vdb'));
    const { out } = await run(machine.env, 'ucvm_prepare_scratch UROOT 1');
    expect(out).toBe(`${path.join(dev, 'sda2')}\n`);
    expect(await sha256(path.join(dev, 'vdb'))).toBe(empty);
  });

  it('moves the backup GPT of a small image written to a larger boot disk before adding to it', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    const sda = path.join(dev, 'sda');
    await sparse(sda, 64 * MiB);
    sfdisk(sda, 'label: gpt\nstart=2048, size=30720, type=U\n');
    await resize(sda, 1024 * MiB);
    // The boot partition: no label, found by its sentinel (the fake mount's sda1.d).
    execFileSync('mkfs.vfat', ['-C', path.join(dev, 'sda1'), String(15 * 1024)], {
      stdio: 'ignore',
    });
    await mkdir(path.join(dev, 'sda1.d'));
    await writeFile(path.join(dev, 'sda1.d', '.ucernvm_boot_loader'), '');
    const machine = await fakeMachine(root, [
      { name: 'sda', partitions: [{ name: 'sda1', number: 1 }] },
    ]);
    const { out, err } = await run(machine.env, 'ucvm_prepare_scratch UROOT');
    expect(err).toBe('ucernvm: scratch: adding a partition to the boot disk sda\n');
    expect(out).toBe(`${path.join(dev, 'sda2')}\n`);
    const lastLba = Number(/^last-lba: (\d+)$/m.exec(table(sda))?.[1]);
    expect(lastLba).toBe(1024 * 2048 - 34);
    expect(partitions(sda).map((p) => [p.start, p.size])).toEqual([
      [2048, 30720],
      [32768, lastLba + 1 - 20 * 2048 - 32768],
    ]);
  });

  it('formats an empty partition before adding one, and never one holding data', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    const sdb = await sparse(path.join(dev, 'sdb'), 256 * MiB);
    sfdisk(sdb, 'label: dos\nstart=2048, size=65536\nstart=67584, size=65536\n');
    await sparse(path.join(dev, 'sdb1'), 32 * MiB);
    await writeAt(path.join(dev, 'sdb1'), 0, noise(4096));
    await sparse(path.join(dev, 'sdb2'), 32 * MiB);
    const machine = await fakeMachine(root, [
      {
        name: 'sdb',
        partitions: [
          { name: 'sdb1', number: 1 },
          { name: 'sdb2', number: 2 },
        ],
      },
    ]);
    const before = await hashes(dev, ['sdb', 'sdb1']);
    const { out, status } = await run(machine.env, 'ucvm_prepare_scratch UROOT');
    expect(status).toBe(0);
    expect(out).toBe(`${path.join(dev, 'sdb2')}\n`);
    expect(superblock(path.join(dev, 'sdb2'))).toMatch(/^Filesystem volume name: +UROOT$/m);
    expect(await hashes(dev, ['sdb', 'sdb1'])).toEqual(before);
  });

  it('fails with a clear message when the boot disk has too little free space, writing nothing', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    const sda = path.join(dev, 'sda');
    await hybridBootDisk(root, sda, 700 * MiB);
    const machine = await fakeMachine(root, [
      { name: 'sda', partitions: [{ name: 'sda1', number: 1 }] },
    ]);
    const before = await writes(sda);
    const { status, err } = await run(machine.env, 'ucvm_prepare_scratch UROOT');
    expect(status).toBe(1);
    expect(err).toContain('ucernvm: scratch: adding a partition to the boot disk sda\n');
    expect(err).toMatch(
      /ucernvm: scratch: only 66\d MiB free after the last partition of .*sda \(with a 20 MiB margin\); the scratch needs 750 MiB/,
    );
    expect(await writes(sda)).toBe(before);
    expect(existsSync(path.join(dev, 'sda2'))).toBe(false);
  });

  it('fails with a clear message when there is nowhere to put the scratch', async () => {
    const root = await tmpdir();
    const dev = path.join(root, 'dev');
    await mkdir(dev);
    await sparse(path.join(dev, 'sda'), 64 * MiB);
    mkext4(path.join(dev, 'sda'), 'data');
    await sparse(path.join(dev, 'sdb'), 64 * MiB);
    const machine = await fakeMachine(root, [{ name: 'sda' }, { name: 'sdb', ro: true }]);
    const before = await hashes(dev, ['sda', 'sdb']);
    const { status, err } = await run(machine.env, 'ucvm_prepare_scratch UROOT');
    expect(status).toBe(1);
    expect(err).toBe(
      'ucernvm: scratch: no empty disk, no empty partition, and no writable boot disk to add a partition to: attach an empty disk of at least 750 MiB\n',
    );
    expect(await hashes(dev, ['sda', 'sdb'])).toEqual(before);
  });

  it('waits a bounded time for a partition the kernel does not show', async () => {
    const root = await tmpdir();
    await mkdir(path.join(root, 'dev'));
    await sparse(path.join(root, 'dev', 'vda'), 64 * MiB);
    const machine = await fakeMachine(root, [{ name: 'vda' }]);
    const result = await sh({
      bin,
      libs: ['disks.sh'],
      script: 'ucvm_partition_device vda 1',
      env: { ...machine.env, UCVM_PARTITION_WAIT: '1' },
    });
    expect(result.status).toBe(1);
    expect(result.err).toBe('ucernvm: scratch: the kernel shows no partition 1 of vda\n');
    expect(result.ms).toBeGreaterThanOrEqual(900);
    expect(result.ms).toBeLessThan(5000);
  });

  it('lays out the scratch file system, idempotently', async () => {
    const root = await tmpdir();
    const folders = ['persistent', 'work', 'cache', 'aux', 'context', 'ulogs', 'cvmfs', 'images'];
    expect((await run({}, 'ucvm_scratch_layout "$1"', [root])).status).toBe(0);
    await writeFile(path.join(root, 'persistent', 'kept'), 'x');
    expect((await run({}, 'ucvm_scratch_layout "$1"', [root])).status).toBe(0);
    for (const folder of folders) expect(existsSync(path.join(root, folder))).toBe(true);
    expect(existsSync(path.join(root, 'persistent', 'kept'))).toBe(true);
  });
});
