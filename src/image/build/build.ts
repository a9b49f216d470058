import { copyFile, mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { loadPublicKey } from '../../keys/index.js';
import { sha256File, writeAtomic } from '../../packages/apt/fetch.js';
import { run } from '../../exec/index.js';
import { silentLogger } from '../../log.js';
import type { Logger } from '../../log.js';
import type { Channel } from '../../manifest/schema.js';
import { channelSettings, keysDirectory, loadPipeline } from '../../reconcile/load.js';
import type { CompressionFormat } from '../cpio/index.js';
import { fetchClientArchive } from '../inputs/client.js';
import { fetchImagePackages } from '../inputs/fetch.js';
import { loadImageInputs } from '../inputs/load.js';
import type { ImageInputs } from '../inputs/schema.js';
import { imagePackageSource } from '../inputs/sources.js';
import { extractClientArchive, extractPackages } from '../initramfs/tree.js';
import { findKernel } from '../initramfs/modules.js';
import { efiImage } from '../iso/fat.js';
import { BOOT_SENTINEL, grubConfig, grubImage } from '../iso/grub.js';
import { writeIso } from '../iso/xorriso.js';
import { buildInitramfs } from './initramfs.js';
import type { InitramfsReport } from './initramfs.js';
import { imageIdentity } from './identity.js';
import { settingsFile } from './settings.js';
import type { BootSettings, RootSource } from './settings.js';
import { steeringDir } from './steering-dir.js';

export interface ImageBuildOptions {
  root: string;
  channel: Channel;
  /** Output directory (default: pipeline.yaml image.output, else dist/images). */
  out?: string;
  rootSource?: RootSource;
  compression?: CompressionFormat;
  /** Default: SOURCE_DATE_EPOCH, else the first day of the image version's month. */
  sourceDateEpoch?: number;
  cacheDir?: string;
  offline?: boolean;
  formats?: ReadonlyArray<'iso' | 'qcow2'>;
  logger?: Logger;
}

export interface Artifact {
  file: string;
  bytes: number;
  sha256: string;
}

export interface ImageBuildResult {
  name: string;
  /** The digest of the inputs (build/identity.ts): plan compares it with the last build's. */
  identity: string;
  version: string;
  channel: Channel;
  settings: BootSettings;
  cmdline: string;
  kernel: Artifact & { version: string };
  initramfs: Artifact & { uncompressedBytes: number; compression: CompressionFormat };
  iso?: Artifact;
  qcow2?: Artifact;
  description: string;
  report: InitramfsReport;
}

/**
 * `ucvm image build <channel>`: the channel's boot image from the pinned inputs of
 * pipeline/image.yaml and the channel's repository settings of pipeline.yaml. The same inputs
 * give the same bytes (every date is SOURCE_DATE_EPOCH, every list sorted).
 */
export async function buildImage(options: ImageBuildOptions): Promise<ImageBuildResult> {
  const logger = options.logger ?? silentLogger;
  const inputs = await loadImageInputs(options.root);
  const pipeline = await loadPipeline(options.root);
  const repository = channelSettings(pipeline, options.channel);
  if (repository === undefined)
    throw new UcvmError(
      'PIPELINE_INVALID',
      `channel ${options.channel} has no repository in pipeline.yaml`,
    );
  const rootSource = options.rootSource ?? pipeline.image?.rootSource ?? 'cvmfs';
  const { settings, cmdline, identity, name } = await imageIdentity(
    inputs,
    pipeline,
    options.channel,
    rootSource,
  );
  const epoch = options.sourceDateEpoch ?? defaultEpoch(inputs.version);
  const compression = options.compression ?? 'zstd';
  const outDir = path.resolve(options.root, options.out ?? pipeline.image?.output ?? 'dist/images');
  const cacheDir = options.cacheDir ?? path.join(os.homedir(), '.cache', 'ucvm', 'image');

  const clientArchive =
    rootSource === 'cvmfs'
      ? await fetchClientArchive(inputs.client, options.root, cacheDir)
      : undefined;
  const publicKey = await readPublicKey(repository, options.root);
  logger.info('fetching the image packages', { packages: Object.keys(inputs.packages).length });
  const source = await imagePackageSource(options.root, inputs.base, {
    logger,
    ...(options.cacheDir !== undefined && { cacheDir: options.cacheDir }),
    ...(options.offline === true && { offline: true }),
  });
  const fetched = await fetchImagePackages(inputs, source);

  const work = await mkdtemp(path.join(os.tmpdir(), 'ucvm-image-'));
  try {
    const tree = path.join(work, 'tree');
    await extractPackages(
      fetched.map((item) => item.file),
      tree,
    );
    if (clientArchive !== undefined) await extractClientArchive(clientArchive, tree, work);
    const kernel = await findKernel(tree);
    const versionText = `${settings.repository} at ${settings.tag}, ucvm image ${inputs.version} (${options.channel})\n`;
    await mkdir(outDir, { recursive: true });
    // The description goes last and says which inputs the files are of: without it, a build
    // stopped half-way is never taken for a finished one (ucvm plan builds it again).
    await rm(path.join(outDir, `${name}.json`), { force: true });
    const initrdOut = path.join(outDir, `${name}.initrd`);
    const report = await buildInitramfs({
      tree,
      kernel,
      extraModules: inputs.modules,
      withClient: clientArchive !== undefined,
      steeringDir: steeringDir(),
      extra: [
        {
          type: 'file',
          path: '/etc/ucvm/image.conf',
          content: Buffer.from(settingsFile(settings)),
        },
        {
          type: 'file',
          path: `/etc/cvmfs/keys/${settings.repository}/${settings.repository}.pub`,
          content: publicKey,
        },
        { type: 'file', path: '/version', content: Buffer.from(versionText) },
      ],
      work,
      out: initrdOut,
      compression,
      sourceDateEpoch: epoch,
    });
    const kernelOut = path.join(outDir, `${name}.vmlinuz`);
    await copyFile(kernel.vmlinuz, kernelOut);
    const result: ImageBuildResult = {
      name,
      identity,
      version: inputs.version,
      channel: options.channel,
      settings,
      cmdline,
      kernel: { ...(await artifact(kernelOut)), version: kernel.version },
      initramfs: {
        ...(await artifact(initrdOut)),
        uncompressedBytes: report.uncompressedBytes,
        compression,
      },
      description: path.join(outDir, `${name}.json`),
      report,
    };
    const formats = options.formats ?? ['iso', 'qcow2'];
    if (formats.includes('iso') || formats.includes('qcow2')) {
      const isoOut = path.join(outDir, `${name}.iso`);
      await buildIso({
        tree,
        work,
        kernelFile: kernelOut,
        initrdFile: initrdOut,
        cmdline,
        versionText,
        out: isoOut,
        epoch,
      });
      if (formats.includes('iso')) result.iso = await artifact(isoOut);
      if (formats.includes('qcow2')) {
        const qcowOut = path.join(outDir, `${name}.qcow2`);
        await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', isoOut, qcowOut]).catch(
          (error: unknown) => {
            throw new UcvmError('BUILD_FAILED', 'qemu-img could not write the qcow2 disk image', {
              details: `${String(error)}\nInstall qemu-utils.`,
            });
          },
        );
        result.qcow2 = await artifact(qcowOut);
        if (!formats.includes('iso')) await rm(isoOut);
      }
    }
    await writeOutputs(
      result,
      inputs,
      fetched.map(({ name: pkg, version, sha256 }) => ({ name: pkg, version, sha256 })),
    );
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface IsoInputs {
  tree: string;
  work: string;
  kernelFile: string;
  initrdFile: string;
  cmdline: string;
  versionText: string;
  out: string;
  epoch: number;
}

async function buildIso(inputs: IsoInputs): Promise<void> {
  const isoRoot = path.join(inputs.work, 'iso');
  await mkdir(path.join(isoRoot, 'boot', 'grub'), { recursive: true });
  await mkdir(path.join(isoRoot, 'ucvm'), { recursive: true });
  await copyFile(inputs.kernelFile, path.join(isoRoot, 'ucvm', 'vmlinuz'));
  await copyFile(inputs.initrdFile, path.join(isoRoot, 'ucvm', 'initrd'));
  await writeFile(path.join(isoRoot, BOOT_SENTINEL), '');
  await writeFile(path.join(isoRoot, 'version'), inputs.versionText);
  const menu = grubConfig([
    { title: 'ucvm', cmdline: inputs.cmdline },
    { title: 'ucvm (debug: stop before the OS starts)', cmdline: `${inputs.cmdline} ucvm.debug` },
  ]);
  await writeFile(path.join(isoRoot, 'boot', 'grub', 'grub.cfg'), menu);
  await grubImage(
    inputs.tree,
    'i386-pc',
    inputs.work,
    path.join(isoRoot, 'boot', 'grub', 'eltorito.img'),
  );
  const efiLoader = path.join(inputs.work, 'BOOTX64.EFI');
  await grubImage(inputs.tree, 'x86_64-efi', inputs.work, efiLoader);
  const efi = path.join(inputs.work, 'efi.img');
  await efiImage(efiLoader, efi, inputs.epoch);
  // xorriso dates each file by its mtime (SOURCE_DATE_EPOCH fixes only the volume's dates).
  await setTreeTimes(isoRoot, inputs.epoch);
  await writeIso({
    root: isoRoot,
    efiImage: efi,
    hybridMbr: path.join(inputs.tree, 'usr/lib/grub/i386-pc/boot_hybrid.img'),
    volumeId: 'UCERNVM',
    out: inputs.out,
    sourceDateEpoch: inputs.epoch,
  });
  await utimes(inputs.out, inputs.epoch, inputs.epoch);
}

async function setTreeTimes(dir: string, epoch: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await setTreeTimes(full, epoch);
    await utimes(full, epoch, epoch);
  }
  await utimes(dir, epoch, epoch);
}

/**
 * The repository's master public key, read and parsed as every reader of the project does
 * (keys/loadPublicKey: bounded, KEY_MISSING or KEY_INVALID naming the file), as PEM for the
 * client in the image.
 */
async function readPublicKey(
  repository: Parameters<typeof keysDirectory>[0],
  root: string,
): Promise<Buffer> {
  const file = path.join(keysDirectory(repository, root), `${repository.name}.pub`);
  const key = await loadPublicKey(file);
  return Buffer.from(key.export({ type: 'spki', format: 'pem' }));
}

/** The first day of the image version's month, UTC: a date that only changes with the version. */
function defaultEpoch(version: string): number {
  const fromEnv = process.env['SOURCE_DATE_EPOCH'];
  if (fromEnv !== undefined && /^[0-9]+$/.test(fromEnv)) return Number(fromEnv);
  const [year, month] = version.split(/[.-]/).map(Number);
  return Date.UTC(year!, month! - 1, 1) / 1000;
}

async function artifact(file: string): Promise<Artifact> {
  return { file, bytes: (await stat(file)).size, sha256: await sha256File(file) };
}

async function writeOutputs(
  result: ImageBuildResult,
  inputs: ImageInputs,
  packages: Array<{ name: string; version: string; sha256: string }>,
): Promise<void> {
  const artifacts = [result.kernel, result.initramfs, result.iso, result.qcow2].filter(
    (item): item is Artifact => item !== undefined,
  );
  for (const item of artifacts) {
    await writeAtomic(`${item.file}.sha256`, `${item.sha256}  ${path.basename(item.file)}\n`);
  }
  const description = {
    name: result.name,
    identity: result.identity,
    version: result.version,
    channel: result.channel,
    boots: result.settings,
    cmdline: result.cmdline,
    kernel: { version: result.kernel.version, package: inputs.kernel },
    client:
      inputs.client === undefined || result.settings.rootSource !== 'cvmfs' ? null : inputs.client,
    inputs: packages,
    initramfs: {
      compression: result.initramfs.compression,
      uncompressedBytes: result.initramfs.uncompressedBytes,
      modules: result.report.modules,
      programs: result.report.programs,
    },
    artifacts: Object.fromEntries(
      artifacts.map((item) => [
        path.basename(item.file),
        { bytes: item.bytes, sha256: item.sha256 },
      ]),
    ),
  };
  await writeAtomic(result.description, `${JSON.stringify(description, null, 2)}\n`);
}
