/**
 * The boot image's benchmark (`node dist/bench/image.js`), in one run, beside the figures of
 * the original μCernVM (ucernvm.md §6 and issue 12):
 *
 * 1. Sizes: the kernel (the stock Debian cloud vmlinuz), the initramfs (compressed and
 *    unpacked) and the ISO, beside the seed's 12 MB image.
 * 2. Boot time to the OS marker (a systemd unit of the demo OS) under QEMU TCG, cold (a blank
 *    scratch disk) and warm (the same machine again, pinned), for each root source this
 *    machine can run: squashfs always, the CernVM-FS client where an archive of it exists.
 * 3. Bytes fetched at boot through the site proxy (a real squid's access log), beside the
 *    seed's 100 MB.
 *
 * Uses the real Debian archive (the kernel, the OS) through the machine's apt sources.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  PROXY_IP,
  PROXY_PORT,
  blankDisk,
  bootFixture,
  type BootFixture,
} from '../test/helpers/boot-fixture.js';
import { findClientArchive } from '../test/helpers/cvmfs-client.js';
import { bootVm } from '../test/helpers/qemu.js';
import type { RootSource } from '../src/image/build/settings.js';
import { describeMachine } from './machine.js';
import { say } from './shell.js';

const CLI = resolve(import.meta.dirname, '../src/cli/main.js');
const PROJECT = resolve(import.meta.dirname, '../..');
const RESULTS = resolve(import.meta.dirname, '../../bench/results');
const SEED = { imageBytes: 12e6, stockVmlinuzBytes: 14.2e6, bootFetchBytes: 100e6 } as const;
const MARKER = /ucvm-os-booted: cernvm-system-/;

interface BootFigures {
  seconds: number;
  bytesThroughProxy: number;
  requests: number;
}

async function timedBoot(fixture: BootFixture, disk: string): Promise<BootFigures> {
  const before = fixture.squid.entries();
  const result = await bootVm({
    iso: fixture.image.iso!.file,
    disks: [{ file: disk }],
    until: MARKER,
    failOn: [/Kernel panic - not syncing/, /\[ERR\]/],
    timeoutMs: 600_000,
    guestfwd: [{ guestIp: PROXY_IP, guestPort: PROXY_PORT, hostPort: fixture.squid.port }],
  });
  // squid logs a transfer once it has ended; give it a moment after the marker.
  await new Promise((done) => setTimeout(done, 2000));
  const during = fixture.squid.entries().slice(before.length);
  return {
    seconds: Math.round(result.durationMs / 100) / 10,
    bytesThroughProxy: during.reduce((sum, entry) => sum + entry.bytes, 0),
    requests: during.length,
  };
}

async function measure(source: RootSource, clientArchive: string | undefined) {
  say(`${source}: building the OS, the repository and the boot image`);
  const fixture = await bootFixture({
    rootSource: source,
    ...(clientArchive !== undefined && { clientArchive }),
    cli: CLI,
    projectRoot: PROJECT,
  });
  try {
    const disk = blankDisk(join(fixture.work, 'scratch.img'));
    say(`${source}: cold boot (blank scratch disk)`);
    const cold = await timedBoot(fixture, disk);
    say(`${source}: warm boot (the same machine, pinned)`);
    const warm = await timedBoot(fixture, disk);
    const { image } = fixture;
    return {
      source,
      sizes: {
        kernelBytes: image.kernel.bytes,
        initramfsBytes: image.initramfs.bytes,
        initramfsUnpackedBytes: image.initramfs.uncompressedBytes,
        isoBytes: image.iso!.bytes,
        isoToSeedImage: ratio(image.iso!.bytes, SEED.imageBytes),
        initramfsToSeedImage: ratio(image.initramfs.bytes, SEED.imageBytes),
        kernelToStockVmlinuz: ratio(image.kernel.bytes, SEED.stockVmlinuzBytes),
        modules: image.report.modules.shipped,
      },
      cold: { ...cold, bytesToSeed: ratio(cold.bytesThroughProxy, SEED.bootFetchBytes) },
      warm: { ...warm, bytesToSeed: ratio(warm.bytesThroughProxy, SEED.bootFetchBytes) },
    };
  } finally {
    await fixture.close();
  }
}

function ratio(value: number, reference: number): number {
  return Math.round((value / reference) * 1000) / 1000;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const clientArchive = findClientArchive();
  const results = [await measure('squashfs', undefined)];
  if (clientArchive !== undefined) results.push(await measure('cvmfs', clientArchive));
  const report = {
    benchmark: 'image',
    startedAt: startedAt.toISOString(),
    machine: await describeMachine(),
    seed: SEED,
    accelerator: 'tcg (no KVM on this machine)',
    clientPath:
      clientArchive === undefined ? 'skipped: no archive of the cvmfs2 client here' : clientArchive,
    results,
  };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await mkdir(RESULTS, { recursive: true });
  const file = join(RESULTS, `image-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, text);
  process.stdout.write(text);
  say(`wrote ${file}`);
}

await main();
