import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bootVm,
  consoleTail,
  findOvmf,
  qemuSkipReason,
  type BootOptions,
  type VmResult,
} from '../../helpers/qemu.js';
import { squidSkipReason } from '../../helpers/squid.js';
import { CLI } from '../../helpers/cli.js';
import type { RootSource } from '../../../src/image/build/settings.js';
import { CLIENT_ARCHIVE_SKIP_REASON, findClientArchive } from '../../helpers/cvmfs-client.js';
import { archiveProblem } from '../archive.js';
import {
  PROXY_IP,
  PROXY_PORT,
  blankDisk,
  bootFixture,
  cidataDrive,
  publishNextVersion,
  rootHashOf,
  type BootFixture,
} from '../../helpers/boot-fixture.js';

const common = qemuSkipReason() ?? squidSkipReason() ?? (await archiveProblem());
const clientArchive = findClientArchive();
const sources: Array<{ source: RootSource; skip: string | undefined }> = [
  { source: 'squashfs', skip: common },
  {
    source: 'cvmfs',
    skip: common ?? (clientArchive === undefined ? CLIENT_ARCHIVE_SKIP_REASON : undefined),
  },
];
for (const { source, skip } of sources)
  if (skip !== undefined) console.log(`test/slow/boot (${source}): skipped: ${skip}`);

/** What the boot steering printed (its [INF]/[WRN]/[ERR] lines and messages), without the kernel's. */
function initLines(console: string): string {
  return console
    .split('\n')
    .filter((line) => /^\[(INF|WRN|ERR)\]|ucernvm:|Welcome to|ucvm-os-booted/.test(line))
    .join('\n');
}

const BOOT_TIMEOUT = 420_000;
const MARKER = /ucvm-os-booted: (cernvm-system-[0-9.]+)/;

describe.each(sources)('the boot image, $source root source', ({ source, skip }) => {
  describe.skipIf(skip !== undefined)(
    `boots the channel's snapshot in QEMU${skip === undefined ? '' : ` (skipped: ${skip})`}`,
    () => {
      let fixture: BootFixture;
      let lastConsole = '';
      const scratch1 = (): string => path.join(fixture.work, 'scratch1.img');
      const scratch2 = (): string => path.join(fixture.work, 'scratch2.img');

      beforeAll(async () => {
        fixture = await bootFixture({
          rootSource: source,
          ...(source === 'cvmfs' && clientArchive !== undefined && { clientArchive }),
          cli: CLI,
          projectRoot: path.resolve(import.meta.dirname, '../../..'),
        });
        blankDisk(scratch1());
        blankDisk(scratch2());
      }, 1_200_000);
      afterAll(async () => fixture?.close());
      // A failed expectation on a boot shows what the machine printed.
      afterEach((context) => {
        if (context.task.result?.state === 'fail' && lastConsole !== '')
          console.log(
            `the init's lines of the failed boot:\n${initLines(lastConsole)}\n\nits console's end:\n${consoleTail(lastConsole, 60)}`,
          );
        lastConsole = '';
      });

      async function boot(options: BootOptions): Promise<VmResult> {
        const port = fixture.squid.port;
        return bootVm({
          timeoutMs: BOOT_TIMEOUT,
          until: MARKER,
          failOn: [/Kernel panic - not syncing/, /\[ERR\]/],
          guestfwd: [{ guestIp: PROXY_IP, guestPort: PROXY_PORT, hostPort: port }],
          memoryMiB: 1024,
          ...options,
        });
      }

      /** The booted version, and the console to show when an expectation on it fails. */
      function booted(result: VmResult): string {
        const version = MARKER.exec(result.console)?.[1] ?? '';
        lastConsole = result.console;
        return version;
      }

      it(
        'boots a blank machine from the ISO (BIOS) into systemd, through the site proxy, and pins the snapshot',
        async () => {
          const result = await boot({
            iso: fixture.image.iso!.file,
            disks: [{ file: scratch1() }],
          });
          expect(booted(result)).toBe('cernvm-system-1.2.0');
          expect(result.console).toContain('no scratch disk yet: first boot');
          expect(result.console).toContain(
            `snapshot HEAD, root hash ${await rootHashOf(fixture, 'cernvm-system-1.2.0')}`,
          );
          expect(result.console).toMatch(/Welcome to .*Debian GNU\/Linux 12/);
          // Everything came through the proxy: the shelf index and the image, or the client's
          // signed manifest and objects.
          const urls = fixture.squid.entries().map((entry) => entry.url);
          const expected =
            source === 'squashfs' ? ['/exports/tags', '.squashfs'] : ['/.cvmfspublished', 'C'];
          // The client keeps the OS's list of files it must never evict (/.ucernvm_pinfiles).
          if (source === 'cvmfs')
            expect(result.console).toMatch(
              /pinned ([1-9][0-9]*) of \1 files of \/\.ucernvm_pinfiles/,
            );
          for (const ending of expected)
            expect(
              urls.some((url) => url.endsWith(ending)),
              ending,
            ).toBe(true);
        },
        BOOT_TIMEOUT,
      );

      it(
        'boots the pinned root hash again although the rolling tag moved',
        async () => {
          await publishNextVersion(fixture, '1.2.0', '1.2.1');
          const pinned = await rootHashOf(fixture, 'cernvm-system-1.2.0');
          expect(await rootHashOf(fixture, 'HEAD')).not.toBe(pinned);
          const result = await boot({
            iso: fixture.image.iso!.file,
            disks: [{ file: scratch1() }],
          });
          expect(booted(result)).toBe('cernvm-system-1.2.0');
          expect(result.console).toContain(`at the pinned ${pinned} (HEAD)`);
        },
        BOOT_TIMEOUT,
      );

      it(
        'boots with UEFI; unusable user data is a clear message, not a hang; a fresh machine gets the new HEAD',
        async () => {
          const ovmf = findOvmf();
          expect(ovmf, 'OVMF is installed with qemu (Debian ovmf)').toBeDefined();
          const cidata = cidataDrive(
            fixture.work,
            '#cloud-config\n[ucernvm-begin]\ncvmfs_tag=$(reboot)\nresize_rootfs=maybe\n[ucernvm-end]\n',
          );
          const result = await boot({
            iso: fixture.image.iso!.file,
            uefi: true,
            disks: [{ file: scratch2() }, { file: cidata, readonly: true }],
          });
          expect(result.console).toContain('context: NoCloud');
          expect(result.console).toMatch(/cvmfs_tag.*not a tag name/);
          expect(booted(result)).toBe('cernvm-system-1.2.1');
          expect(result.console).toContain(
            `root hash ${await rootHashOf(fixture, 'cernvm-system-1.2.1')}`,
          );
        },
        BOOT_TIMEOUT,
      );

      it(
        'switches back in time to a forced older tag, and keeps it pinned',
        async () => {
          const older = await rootHashOf(fixture, 'cernvm-system-1.2.0');
          const append = `${fixture.image.cmdline} ucvm.force_tag=cernvm-system-1.2.0`;
          const kernel = {
            kernel: fixture.image.kernel.file,
            initrd: fixture.image.initramfs.file,
            append,
          };
          const result = await boot({ ...kernel, disks: [{ file: scratch2() }] });
          expect(booted(result)).toBe('cernvm-system-1.2.0');
          expect(result.console).toContain(`snapshot cernvm-system-1.2.0, root hash ${older}`);
        },
        BOOT_TIMEOUT,
      );

      it.runIf(source === 'squashfs')(
        'boots the qcow2 disk image grown as a cloud grows a root disk, the scratch in its free space',
        async () => {
          const disk = path.join(fixture.work, 'root-disk.qcow2');
          execFileSync('qemu-img', [
            'convert',
            '-q',
            '-O',
            'qcow2',
            fixture.image.qcow2!.file,
            disk,
          ]);
          execFileSync('qemu-img', ['resize', '-q', disk, '4G']);
          const result = await boot({ disks: [{ file: disk, format: 'qcow2' }] });
          expect(booted(result)).toMatch(/^cernvm-system-/);
          expect(result.console).toContain(
            `snapshot HEAD, root hash ${await rootHashOf(fixture, 'HEAD')}`,
          );
          expect(result.console).toContain('no scratch disk yet: first boot');
          expect(result.console).toContain('scratch: adding a partition to the boot disk vda');
        },
        BOOT_TIMEOUT,
      );

      it('kept the pin and the boot log on the scratch disk', async () => {
        // The first machine's scratch: ext4 in partition 1, at 1 MiB (sfdisk's alignment). QEMU
        // stops right after the hand-over, so what the guest synced may still sit in the journal,
        // which debugfs does not replay: e2fsck replays it first, as the next mount would, on a
        // copy of the partition (a sparse copy, its first MiB cut off).
        const partition = path.join(fixture.work, 'scratch1-partition.img');
        execFileSync('cp', ['--sparse=always', scratch1(), partition]);
        execFileSync('fallocate', ['--collapse-range', '--offset=0', '--length=1MiB', partition]);
        const check = spawnSync('e2fsck', ['-fy', partition], { encoding: 'utf8' });
        expect(check.status, `e2fsck: ${check.stdout}${check.stderr}`).toBeLessThanOrEqual(1);
        const read = (file: string): string =>
          execFileSync('debugfs', ['-R', `cat ${file}`, partition], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          });
        expect(read('/aux/snapshot')).toBe(
          `${await rootHashOf(fixture, 'cernvm-system-1.2.0')}\nHEAD\n`,
        );
        const log = read('/ulogs/boot.log');
        expect(log.match(/^=== boot of /gm)?.length).toBe(2);
        expect(log).toContain('--- hand_over');
      });
    },
  );
});
