import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildImage } from '../../src/image/build/build.js';
import { isUcvmError } from '../../src/errors.js';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';
import { archiveProblem } from './archive.js';

const root = path.resolve(import.meta.dirname, '../..');
const unreachable = await archiveProblem();

/** A project with the demo's image inputs and one channel whose repository has keys. */
async function project(): Promise<string> {
  const dir = await tmpdir();
  mkdirSync(path.join(dir, 'pipeline'));
  copyFileSync(path.join(root, 'pipeline/image.yaml'), path.join(dir, 'pipeline/image.yaml'));
  const keys = path.join(dir, 'keys');
  const init = ucvm(['repo', 'init', path.join(dir, 'srv', 'os.example.org'), '--keys', keys]);
  expect(init.status, init.stderr).toBe(0);
  writeFileSync(
    path.join(dir, 'pipeline/pipeline.yaml'),
    [
      'repositories:',
      `  - { name: os.example.org, backend: embedded, storage: srv/os.example.org, keys: ${keys}, url: "http://stratum1.example.org/cvmfs/os.example.org", rollingTag: HEAD5 }`,
      'channels: { development: os.example.org }',
      'promotion: [development]',
      'pool: pool',
      'image: { proxy: "http://squid.example.org:3128;DIRECT", cmdline: console=ttyS0 }',
      '',
    ].join('\n'),
  );
  return dir;
}

describe.skipIf(unreachable !== undefined)(
  `ucvm image build from the real archive${unreachable === undefined ? '' : ` (skipped: ${unreachable})`}`,
  () => {
    it('gives the same bytes twice, an ISO with BIOS and UEFI boot entries, and a description of its inputs', async () => {
      const dir = await project();
      const first = await buildImage({
        root: dir,
        channel: 'development',
        rootSource: 'squashfs',
        out: path.join(dir, 'a'),
      });
      const second = await buildImage({
        root: dir,
        channel: 'development',
        rootSource: 'squashfs',
        out: path.join(dir, 'b'),
      });
      for (const part of ['kernel', 'initramfs', 'iso', 'qcow2'] as const) {
        expect(second[part]?.sha256, part).toBe(first[part]?.sha256);
        expect(first[part]?.bytes, part).toBeGreaterThan(0);
      }
      // The settings of pipeline.yaml on the kernel command line, quoted for GRUB where needed.
      expect(first.cmdline).toBe(
        'ucvm.repository=os.example.org ucvm.server=http://stratum1.example.org/cvmfs/os.example.org ucvm.proxy=http://squid.example.org:3128;DIRECT ucvm.tag=HEAD5 ucvm.root=squashfs console=ttyS0',
      );
      const grubFile = path.join(dir, 'grub.cfg');
      execFileSync(
        'xorriso',
        ['-osirrox', 'on', '-indev', first.iso!.file, '-extract', '/boot/grub/grub.cfg', grubFile],
        {
          stdio: 'ignore',
        },
      );
      const grub = readFileSync(grubFile, 'utf8');
      expect(grub).toContain("'ucvm.proxy=http://squid.example.org:3128;DIRECT'");
      expect(grub).toMatch(
        /menuentry 'ucvm \(debug: stop before the OS starts\)' \{\n {2}linux \/ucvm\/vmlinuz .* ucvm\.debug\n/,
      );

      // El Torito: a BIOS entry and a UEFI entry; the EFI partition in the table for disk boots.
      const report = execFileSync(
        'xorriso',
        ['-indev', first.iso!.file, '-report_el_torito', 'plain', '-report_system_area', 'plain'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      expect(report).toMatch(/El Torito boot img :\s+1\s+BIOS/);
      expect(report).toMatch(/El Torito boot img :\s+2\s+UEFI/);
      // The EFI system partition (its GPT type) for UEFI boots from a disk.
      expect(report).toMatch(/GPT type GUID\s+:\s+2\s+28732ac11ff8d211ba4b00a0c93ec93b/);

      // The initramfs, read by an independent tool: the init, the steering, the client config
      // and the key, the programs with their loader, no host files.
      const listing = execFileSync(
        'sh',
        ['-c', 'zstd -dc "$1" | bsdtar -tvf -', 'sh', first.initramfs.file],
        { encoding: 'utf8' },
      );
      for (const member of [
        'init',
        'lib/ucvm/stages/70-mount.sh',
        'sbin/mkfs.ext4',
        'sbin/sfdisk',
        'lib64/ld-linux-x86-64.so.2',
        'etc/ucvm/image.conf',
        'etc/cvmfs/keys/os.example.org/os.example.org.pub',
        'version',
      ])
        expect(listing, member).toMatch(new RegExp(` ${member.replace(/[.]/g, '\\.')}( |$)`, 'm'));
      expect(listing).not.toMatch(/ usr\/bin\/cvmfs2/);
      for (const line of listing.trim().split('\n'))
        expect(line, line).toMatch(/^\S+\s+\d+ 0\s+0\s/);

      const description = JSON.parse(readFileSync(first.description, 'utf8')) as Record<
        string,
        unknown
      >;
      expect(description).toMatchObject({
        version: '2026.12-1',
        channel: 'development',
        boots: { rootSource: 'squashfs', tag: 'HEAD5' },
      });
      const inputs = description.inputs as Array<{ name: string; version: string; sha256: string }>;
      expect(inputs.map((input) => input.name)).toContain('busybox-static');
      expect(readFileSync(`${first.iso!.file}.sha256`, 'utf8')).toBe(
        `${first.iso!.sha256}  ${path.basename(first.iso!.file)}\n`,
      );
    }, 600_000);

    it('refuses to build the client image without a client, saying how to provide one', async () => {
      const dir = await project();
      await expect(
        buildImage({ root: dir, channel: 'development', out: path.join(dir, 'c') }),
      ).rejects.toSatisfy(
        (error: unknown) =>
          isUcvmError(error, 'CLIENT_MISSING') && /client: \{ archive:/.test(error.details ?? ''),
      );
    });
  },
);
