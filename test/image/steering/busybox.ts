import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir } from '../../helpers/tmp.js';

/** The steering library (src/image/steering/lib). */
export const LIB = path.resolve(import.meta.dirname, '../../../src/image/steering/lib');

/**
 * What the initramfs holds besides busybox: util-linux's sfdisk, e2fsprogs' mkfs.ext4 and tune2fs
 * (names busybox has no applet of: its sh runs its own applets before PATH).
 */
const TOOLS = ['sfdisk', 'mkfs.ext4', 'tune2fs'];

/**
 * A directory with exactly the commands the initramfs will have: every busybox applet, then the
 * tools above. The caller removes it (removeDir).
 */
export async function initramfsBin(): Promise<string> {
  const dir = await makeTempDir('ucvm-bin-');
  execFileSync('busybox', ['--install', '-s', dir]);
  for (const tool of TOOLS) {
    const real = ['/usr/sbin', '/sbin'].map((d) => path.join(d, tool)).find((f) => existsSync(f));
    if (real === undefined) throw new Error(`${tool} is not installed on this machine`);
    await rm(path.join(dir, tool), { force: true });
    await symlink(real, path.join(dir, tool));
  }
  return dir;
}

/**
 * Mounting is impossible in host tests: "mounting" DEV copies the directory DEV.d (the files
 * the fixture put in that file system), unmounting empties the mount point again.
 */
export const FAKE_MOUNT = [
  'ucvm_mount_ro() { [ -d "$1.d" ] && cp -R "$1.d/." "$3/"; }',
  'ucvm_umount() { rm -rf "$1" && mkdir "$1"; }',
].join('\n');

export interface ShOptions {
  /** From initramfsBin: the only PATH. */
  bin: string;
  /** Library files sourced first, in order (names in LIB). */
  libs: string[];
  script: string;
  /** $1, $2, … of the script. */
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface ShResult {
  out: string;
  err: string;
  status: number;
  ms: number;
}

/** Runs a snippet under busybox sh (asynchronously: a server in this process can answer it). */
export function sh(options: ShOptions): Promise<ShResult> {
  const sources = options.libs.map((lib) => `. "${path.join(LIB, lib)}"`).join('\n');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(options.bin, 'sh'),
      ['-c', `${sources}\n${options.script}`, 'sh', ...(options.args ?? [])],
      {
        cwd: options.cwd,
        env: { PATH: options.bin, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({
        out: Buffer.concat(out).toString('utf8'),
        err: Buffer.concat(err).toString('utf8'),
        status: code ?? -1,
        ms: Date.now() - started,
      });
    });
  });
}

/** A partition as the kernel shows it in sysfs. */
export interface FakePartition {
  name: string;
  number: number;
  ro?: boolean;
}

/** A whole disk as the kernel shows it in sysfs; its bytes are the file dev/<name>, if any. */
export interface FakeDisk {
  name: string;
  /** Size in 512-byte sectors; by default the size of dev/<name> (0 when absent). */
  sectors?: number;
  ro?: boolean;
  removable?: boolean;
  /** The SCSI device type (5: CD/DVD). */
  scsiType?: number;
  /** No `device` link: loop, ram, zram, device-mapper. */
  virtual?: boolean;
  partitions?: FakePartition[];
}

export interface FakeMachine {
  sysfs: string;
  dev: string;
  /** The environment that points the library at this machine. */
  env: Record<string, string>;
}

/**
 * A fake sysfs (`sys/block/<disk>/…`, with the attributes the library reads and a few
 * subdirectories that are no partitions) under root; device files live in root/dev, written by
 * the caller before (sizes are read from them).
 */
export async function fakeMachine(root: string, disks: FakeDisk[]): Promise<FakeMachine> {
  const sysfs = path.join(root, 'sys');
  const dev = path.join(root, 'dev');
  await mkdir(path.join(sysfs, 'block'), { recursive: true });
  await mkdir(dev, { recursive: true });
  const sizeOf = async (name: string): Promise<number> => {
    const info = await stat(path.join(dev, name)).catch(() => undefined);
    return info === undefined ? 0 : Math.floor(info.size / 512);
  };
  for (const disk of disks) {
    const dir = path.join(sysfs, 'block', disk.name);
    await mkdir(path.join(dir, 'queue'), { recursive: true });
    await mkdir(path.join(dir, 'holders'), { recursive: true });
    await writeFile(path.join(dir, 'size'), `${disk.sectors ?? (await sizeOf(disk.name))}\n`);
    await writeFile(path.join(dir, 'ro'), disk.ro === true ? '1\n' : '0\n');
    await writeFile(path.join(dir, 'removable'), disk.removable === true ? '1\n' : '0\n');
    if (disk.virtual !== true) {
      await mkdir(path.join(dir, 'device'), { recursive: true });
      if (disk.scsiType !== undefined) {
        await writeFile(path.join(dir, 'device', 'type'), `${disk.scsiType}\n`);
      }
    }
    for (const part of disk.partitions ?? []) {
      const partDir = path.join(dir, part.name);
      await mkdir(partDir, { recursive: true });
      await writeFile(path.join(partDir, 'partition'), `${part.number}\n`);
      await writeFile(path.join(partDir, 'ro'), part.ro === true ? '1\n' : '0\n');
      await writeFile(path.join(partDir, 'size'), `${await sizeOf(part.name)}\n`);
    }
  }
  return { sysfs, dev, env: { UCVM_SYSFS: sysfs, UCVM_DEV: dev } };
}
