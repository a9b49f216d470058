import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootVm,
  buildBusyboxInitramfs,
  consoleTail,
  fetchDebianKernel,
  findOvmf,
  kernelConfig,
  modinfo,
  moduleClosure,
  qemuArgs,
  qemuSkipReason,
  userNetAddresses,
  VmBootError,
  type DebianKernel,
  type VmRun,
} from '../helpers/qemu.js';
import { squidSkipReason, startSquid, type Squid } from '../helpers/squid.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

// Which boots can run here: QEMU, then a Debian kernel from apt (downloaded once into the
// test cache, outside the repository).
const qemuReason = qemuSkipReason();
const fetched = qemuReason === undefined ? await fetchDebianKernel() : undefined;
const bootReason = qemuReason ?? fetched?.skipReason;
const kernel: DebianKernel | undefined = fetched?.kernel;
const ovmf = findOvmf();
const uefiReason =
  ovmf === undefined
    ? 'OVMF is not installed (Debian package ovmf); skipped, not passed'
    : undefined;
const squidReason = squidSkipReason();
const isoTools = ['xorriso', 'mkfs.vfat', 'mmd', 'mcopy'];
const isoToolsReason = isoTools.every(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
)
  ? undefined
  : `an ISO needs ${isoTools.join(', ')} (Debian xorriso, dosfstools, mtools); skipped, not passed`;
for (const reason of [bootReason, uefiReason, squidReason, isoToolsReason])
  if (reason !== undefined) console.log(`test/boot-harness/qemu: ${reason}`);

const BOOT_TEST_TIMEOUT = 200_000;

/**
 * The guest's /init: what it does comes from the kernel command line (ucvm.test=MODE,
 * ucvm.origin=HOST:PORT), so that one initramfs serves every test.
 */
const INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "UCVM-HARNESS-INIT $(uname -r)"
for module in $(cat /lib/modules/order); do
  insmod /lib/modules/$module.ko || echo "UCVM-HARNESS insmod $module failed"
done
mode=none
origin=
for arg in $(cat /proc/cmdline); do
  case $arg in
    ucvm.test=*) mode=\${arg#*=} ;;
    ucvm.origin=*) origin=\${arg#*=} ;;
  esac
done
ip link set lo up
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up
ip route add default via 10.0.2.2
case $mode in
  net)
    echo "UCVM-HARNESS-BODY1<$(wget -q -O - http://10.0.2.100:8080/hello)>"
    echo "UCVM-HARNESS-BODY2<$(wget -q -O - http://10.0.2.100:8080/hello)>"
    echo "UCVM-HARNESS-DISK<$(head -c 24 /dev/vda)> SERIAL<$(cat /sys/block/vda/serial)>"
    ;;
  proxy)
    export http_proxy=http://10.0.2.100:3128
    for n in 1 2; do
      wget -q -O /tmp/object http://$origin/data/object && echo "UCVM-HARNESS-PROXY$n<$(sha1sum /tmp/object)>"
    done
    ;;
  hang)
    echo UCVM-HARNESS-HANGING
    sleep 100000
    ;;
  panic)
    echo c > /proc/sysrq-trigger
    ;;
esac
echo UCVM-HARNESS-DONE
poweroff -f
`;

describe('qemuArgs (no QEMU needed)', () => {
  it('builds a TCG command line: console on the serial port, disks, a restricted user network with per-connection relays', () => {
    const args = qemuArgs(
      {
        kernel: '/k/vmlinuz',
        initrd: '/k/initrd',
        append: 'console=ttyS0 quiet',
        disks: [
          { file: '/d/a,b.img', readonly: true, serial: 'ucvm-scratch' },
          { file: '/d/c.qcow2', format: 'qcow2', snapshot: true },
        ],
        guestfwd: [{ guestIp: '10.0.2.100', guestPort: 3128, hostPort: 40000 }],
        cpus: 2,
        memoryMiB: 512,
      },
      { busybox: '/bin/busybox' },
    );
    const joined = args.join(' ');
    expect(joined).toContain('-accel tcg -machine q35 -m 512 -smp 2 -nodefaults -no-reboot');
    expect(joined).toContain('-chardev stdio,id=console,signal=off -serial chardev:console');
    expect(args).toContain('console=ttyS0 quiet');
    expect(args).toContain('if=none,id=disk0,file=/d/a,,b.img,format=raw,readonly=on');
    expect(args).toContain('virtio-blk-pci,drive=disk0,serial=ucvm-scratch');
    expect(args).toContain('if=none,id=disk1,file=/d/c.qcow2,format=qcow2,snapshot=on');
    expect(args).toContain('virtio-blk-pci,drive=disk1');
    expect(args).toContain(
      'user,id=n0,restrict=on,net=10.0.2.0/24,guestfwd=tcp:10.0.2.100:3128-cmd:/bin/busybox nc 127.0.0.1 40000',
    );
    expect(args).toContain('virtio-net-pci,netdev=n0');
  });

  it('boots an ISO from a CD with boot index 0, and UEFI from OVMF with a private variable store', () => {
    const args = qemuArgs(
      { iso: '/i/boot.iso', uefi: true, noNetwork: true },
      { ovmfVars: '/t/vars.fd' },
    );
    expect(args).toContain('if=none,id=cd0,media=cdrom,readonly=on,file=/i/boot.iso');
    expect(args).toContain('ide-cd,drive=cd0,bootindex=0');
    if (ovmf !== undefined) {
      expect(args).toContain(`if=pflash,format=raw,unit=0,readonly=on,file=${ovmf.code}`);
      expect(args).toContain('if=pflash,format=raw,unit=1,file=/t/vars.fd');
    }
    expect(args).not.toContain('-netdev');
  });

  it('refuses a guestfwd QEMU would refuse, and says how to reach 169.254.169.254', () => {
    const metadata = { guestIp: '169.254.169.254', guestPort: 80, hostPort: 8080 };
    expect(() => qemuArgs({ kernel: '/k', guestfwd: [metadata] })).toThrow(
      /inside net 10\.0\.2\.0\/24.*use net: '169\.254\.0\.0\/16'/,
    );
    expect(() =>
      qemuArgs({ kernel: '/k', guestfwd: [{ ...metadata, guestIp: '10.0.2.2' }] }),
    ).toThrow(/gateway/);
    expect(qemuArgs({ kernel: '/k', net: '169.254.0.0/16', guestfwd: [metadata] })).toContain(
      'user,id=n0,restrict=on,net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-cmd:/bin/busybox nc 127.0.0.1 8080',
    );
    expect(userNetAddresses('169.254.0.0/16')).toMatchObject({
      guest: '169.254.0.15',
      gateway: '169.254.0.2',
      dns: '169.254.0.3',
    });
    expect(() => qemuArgs({})).toThrow(/nothing to boot/);
  });

  it('gives a reason, not an error, when apt has no such kernel', async () => {
    const result = await fetchDebianKernel({ flavour: 'no-such-flavour-amd64' });
    expect(result.kernel).toBeUndefined();
    expect(result.skipReason).toMatch(/linux-image-no-such-flavour-amd64.*skipped, not passed/s);
  });

  it('keeps the last lines of a console', () => {
    const text = Array.from({ length: 300 }, (_, index) => `line ${index}`).join('\n');
    const tail = consoleTail(text, 200);
    expect(tail.split('\n')[0]).toBe('[… 100 earlier lines]');
    expect(tail).toContain('line 100\n');
    expect(tail).not.toContain('line 99\n');
    expect(tail.endsWith('line 299')).toBe(true);
  });
});

describe.skipIf(bootReason !== undefined)(
  `booting a Debian kernel and a busybox initramfs under TCG${bootReason === undefined ? '' : ` (${bootReason})`}`,
  () => {
    let work: string;
    let initrd: string;
    let disk: string;
    let origin: Server;
    let originPort: number;
    const originRequests: string[] = [];
    const object = Buffer.alloc(2 << 20, 'a cacheable object\n');
    const objectSha1 = execFileSync('sha1sum', { input: object }).toString().split(' ')[0]!;
    /** How long a boot to the hang took (keepRunning's test): the timeout test's yardstick. */
    let hangBootMs: number | undefined;
    const append = (mode: string): string =>
      `console=ttyS0 panic=-1 ucvm.test=${mode} ucvm.origin=127.0.0.1:${originPort}`;

    /** Runs a boot; on failure the error (and so the test report) carries the console's tail. */
    const boot = async (name: string, options: Parameters<typeof bootVm>[0]): Promise<VmRun> => {
      const run = await bootVm({ logFile: path.join(work, `${name}.console.log`), ...options });
      console.log(
        `boot-harness: ${name}: ${run.matched ? 'until seen' : 'QEMU exited'} after ${run.durationMs} ms`,
      );
      return run;
    };

    beforeAll(async () => {
      work = await makeTempDir('ucvm-boot-harness-');
      const config = await kernelConfig(kernel!);
      // The cloud kernel has virtio, virtio_pci, virtio_net, virtio_blk as modules (bookworm:
      // uncompressed .ko, CONFIG_MODULE_COMPRESS_NONE); the closure comes from their modinfo.
      const wanted = ['virtio_pci', 'virtio_net', 'virtio_blk'].filter(
        (name) => config.get(`CONFIG_${name.toUpperCase()}`) !== 'y',
      );
      const modules = await moduleClosure(kernel!.modulesDir, wanted);
      initrd = await buildBusyboxInitramfs({
        output: path.join(work, 'initrd.cpio'),
        init: INIT,
        modules,
      });
      disk = path.join(work, 'disk.img');
      const content = Buffer.alloc(1 << 20);
      content.write('UCVM-DISK-MARKER-0123456');
      writeFileSync(disk, content);
      origin = createServer((req, res) => {
        originRequests.push(req.url ?? '');
        if (req.url === '/hello') res.end('hello from the host\n');
        else if (req.url === '/data/object')
          res
            .writeHead(200, {
              'content-length': object.length,
              'cache-control': 'public, max-age=3600',
            })
            .end(object);
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      originPort = (origin.address() as AddressInfo).port;
    }, 120_000);

    afterAll(async () => {
      origin?.closeAllConnections();
      await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
      if (work !== undefined) await removeDir(work);
    });

    it('puts the modules in dependency order, read from their .modinfo', async () => {
      const modules = await moduleClosure(kernel!.modulesDir, ['virtio_net']);
      const names = modules.map((module) => module.name);
      expect(names.at(-1)).toBe('virtio_net');
      for (const [before, after] of [
        ['virtio_ring', 'virtio'],
        ['failover', 'net_failover'],
        ['net_failover', 'virtio_net'],
      ] as const)
        expect(names.indexOf(before), names.join(' ')).toBeLessThan(names.indexOf(after));
      const info = modinfo(readFileSync(modules.at(-1)!.file));
      expect(info.get('vermagic')?.[0]).toContain(kernel!.version);
    });

    it(
      'boots (BIOS), fetches twice over a guestfwd, reads a virtio disk by its serial, powers off',
      async () => {
        const before = originRequests.length;
        const run = await boot('bios', {
          kernel: kernel!.vmlinuz,
          initrd,
          append: append('net'),
          disks: [{ file: disk, readonly: true, serial: 'ucvm-test-disk' }],
          guestfwd: [{ guestIp: '10.0.2.100', guestPort: 8080, hostPort: originPort }],
          timeoutMs: 180_000,
        });
        const tail = consoleTail(run.console);
        expect(run.exitCode, tail).toBe(0);
        expect(run.console, tail).toContain(`UCVM-HARNESS-INIT ${kernel!.version}`);
        expect(run.console, tail).not.toContain('insmod');
        expect(run.console, tail).toContain('UCVM-HARNESS-BODY1<hello from the host>');
        expect(run.console, tail).toContain('UCVM-HARNESS-BODY2<hello from the host>');
        expect(run.console, tail).toContain(
          'UCVM-HARNESS-DISK<UCVM-DISK-MARKER-0123456> SERIAL<ucvm-test-disk>',
        );
        expect(run.console, tail).toContain('UCVM-HARNESS-DONE');
        expect(originRequests.slice(before)).toEqual(['/hello', '/hello']);
      },
      BOOT_TEST_TIMEOUT,
    );

    it.skipIf(uefiReason !== undefined)(
      `boots the same under UEFI (OVMF)${uefiReason === undefined ? '' : ` (${uefiReason})`}`,
      async () => {
        const run = await boot('uefi', {
          kernel: kernel!.vmlinuz,
          initrd,
          append: append('net'),
          uefi: true,
          disks: [{ file: disk, readonly: true, serial: 'ucvm-test-disk' }],
          guestfwd: [{ guestIp: '10.0.2.100', guestPort: 8080, hostPort: originPort }],
          until: 'UCVM-HARNESS-DONE',
          timeoutMs: 180_000,
        });
        const tail = consoleTail(run.console);
        expect(run.matched, tail).toBe(true);
        expect(run.console, tail).toContain('EFI stub');
        expect(run.console, tail).toContain('UCVM-HARNESS-BODY2<hello from the host>');
      },
      BOOT_TEST_TIMEOUT,
    );

    it.skipIf(squidReason !== undefined)(
      `fetches through squid on the host via a guestfwd; the second fetch is a cache hit${squidReason === undefined ? '' : ` (${squidReason})`}`,
      async () => {
        let squid: Squid | undefined;
        try {
          squid = await startSquid();
          const before = originRequests.length;
          const run = await boot('proxy', {
            kernel: kernel!.vmlinuz,
            initrd,
            append: append('proxy'),
            guestfwd: [{ guestIp: '10.0.2.100', guestPort: 3128, hostPort: squid.port }],
            until: 'UCVM-HARNESS-DONE',
            timeoutMs: 180_000,
          });
          const tail = consoleTail(run.console);
          expect(run.console, tail).toContain(`UCVM-HARNESS-PROXY1<${objectSha1}`);
          expect(run.console, tail).toContain(`UCVM-HARNESS-PROXY2<${objectSha1}`);
          const entries = await squid.waitForEntries(2);
          expect(
            entries.map((entry) => entry.status),
            squid.accessLog(),
          ).toEqual(['TCP_MISS', 'TCP_MEM_HIT']);
          expect(originRequests.slice(before)).toEqual(['/data/object']);
        } finally {
          await squid?.stop();
        }
      },
      BOOT_TEST_TIMEOUT,
    );

    it.skipIf(uefiReason !== undefined || isoToolsReason !== undefined)(
      `boots an ISO under UEFI: OVMF starts the CD's EFI image${uefiReason === undefined && isoToolsReason === undefined ? '' : ` (${uefiReason ?? isoToolsReason})`}`,
      async () => {
        // The Debian kernel is an EFI application (EFI stub): as \EFI\BOOT\BOOTX64.EFI of an
        // El Torito EFI image it is what OVMF boots from the CD. Without a command line it does
        // not write to the serial port, so the firmware's own lines are what is checked.
        const efi = path.join(work, 'efi.img');
        const root = path.join(work, 'iso-root');
        const iso = path.join(work, 'test.iso');
        execFileSync('mkdir', ['-p', root]);
        execFileSync('truncate', ['-s', '16M', efi]);
        execFileSync('mkfs.vfat', ['-n', 'UCVMEFI', efi]);
        execFileSync('mmd', ['-i', efi, '::/EFI', '::/EFI/BOOT']);
        execFileSync('mcopy', ['-i', efi, kernel!.vmlinuz, '::/EFI/BOOT/BOOTX64.EFI']);
        execFileSync('cp', [efi, path.join(root, 'efi.img')]);
        execFileSync('xorriso', [
          ...['-as', 'mkisofs', '-quiet', '-V', 'UCVMTEST'],
          ...['-e', 'efi.img', '-no-emul-boot', '-o', iso, root],
        ]);
        const run = await boot('uefi-iso', {
          iso,
          uefi: true,
          noNetwork: true,
          until: /BdsDxe: starting Boot\d+ "UEFI QEMU DVD-ROM/,
          timeoutMs: 180_000,
        });
        expect(run.matched, consoleTail(run.console)).toBe(true);
      },
      BOOT_TEST_TIMEOUT,
    );

    it(
      'keepRunning leaves the VM up at the match, until stop()',
      async () => {
        const run = await boot('keep-running', {
          kernel: kernel!.vmlinuz,
          initrd,
          append: append('hang'),
          noNetwork: true,
          until: 'UCVM-HARNESS-HANGING',
          keepRunning: true,
          timeoutMs: 180_000,
        });
        expect(run.running).toBe(true);
        expect(run.exitCode).toBeNull();
        await expect(run.waitFor('never shown', 500)).rejects.toThrow(/UCVM-HARNESS-HANGING/);
        const stopped = await run.stop();
        expect(stopped.exitCode ?? stopped.signal).not.toBeNull();
        expect(stopped.console).toContain('UCVM-HARNESS-HANGING');
        hangBootMs = run.durationMs;
      },
      BOOT_TEST_TIMEOUT,
    );

    it(
      'a timeout rejects with the console’s last lines in the message',
      async () => {
        // Long enough to reach the hang: three times the boot that got there before.
        const timeoutMs = hangBootMs === undefined ? 20_000 : Math.max(6_000, 3 * hangBootMs);
        const error = await bootVm({
          kernel: kernel!.vmlinuz,
          initrd,
          append: append('hang'),
          noNetwork: true,
          until: 'never shown',
          timeoutMs,
        }).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(VmBootError);
        const failure = error as VmBootError;
        expect(failure.reason).toBe('timeout');
        expect(failure.message).toContain(
          `timed out after ${timeoutMs} ms without the console showing never shown`,
        );
        expect(failure.message).toContain('--- console, last 200 lines ---');
        expect(failure.message).toContain('UCVM-HARNESS-HANGING');
      },
      BOOT_TEST_TIMEOUT,
    );

    it(
      'a kernel panic rejects at once (failOn), with the panic in the message',
      async () => {
        const started = Date.now();
        const error = await bootVm({
          kernel: kernel!.vmlinuz,
          initrd,
          append: `${append('panic')} panic=0`,
          noNetwork: true,
          until: 'UCVM-HARNESS-DONE',
          timeoutMs: 180_000,
        }).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(VmBootError);
        expect((error as VmBootError).reason).toBe('failOn');
        expect((error as VmBootError).message).toContain(
          'Kernel panic - not syncing: sysrq triggered crash',
        );
        expect(Date.now() - started).toBeLessThan(60_000);
      },
      BOOT_TEST_TIMEOUT,
    );
  },
);
