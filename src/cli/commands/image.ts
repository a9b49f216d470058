import type { Command } from 'commander';
import { UcvmError } from '../../errors.js';
import type { ImageBuildResult } from '../../image/build/build.js';
import { lockImage } from '../../image/inputs/index.js';
import { Channel } from '../../manifest/schema.js';
import type { ImageLockResult } from '../../image/inputs/index.js';
import { cliLogger, emit } from '../output.js';

interface ImageLockCommandOptions {
  root: string;
  upgrade?: boolean;
  json?: boolean;
}

export function registerImageCommands(program: Command): void {
  const image = program
    .command('image')
    .description('the boot image: a kernel and an initramfs that mount a channel snapshot');
  image
    .command('lock')
    .description("pin the boot image's packages (pipeline/image.yaml) by version and .deb hash")
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--upgrade', 'take the newest versions instead of keeping the pinned ones')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
The kernel package is followed to the linux-image-<version> package it depends on, the
programs through their Depends and Pre-Depends (for their shared libraries), the files
packages alone. Versions and SHA-256 hashes come from the signed package index of the
sources of pipeline/pipeline.yaml (else the machine's apt sources) for base.suite.

Examples:
  $ ucvm image lock
  $ ucvm image lock --upgrade --json`,
    )
    .action(async (options: ImageLockCommandOptions) => {
      const json = options.json === true;
      const result = await lockImage(options.root, {
        upgrade: options.upgrade === true,
        logger: cliLogger({ quiet: json }),
      });
      emit(json, { ...result, pins: Object.fromEntries(result.pins) }, () => formatLock(result));
    });
  registerImageBuild(image);
}

function formatLock(result: ImageLockResult): string {
  if (!result.changed)
    return `${result.file}: ${result.pins.size} packages pinned, nothing changed`;
  const lines = [`${result.file}: ${result.pins.size} packages pinned`];
  for (const name of result.added) lines.push(`  + ${name} ${result.pins.get(name)!.version}`);
  for (const name of result.removed) lines.push(`  - ${name}`);
  for (const { name, from, to } of result.updated) lines.push(`  ~ ${name} ${from} → ${to}`);
  return lines.join('\n');
}

interface ImageBuildCommandOptions {
  root: string;
  out?: string;
  rootSource: string;
  compression: string;
  format: string;
  offline?: boolean;
  json?: boolean;
}

export function registerImageBuild(image: Command): void {
  image
    .command('build')
    .description("build a channel's boot image: kernel, initramfs, ISO (BIOS and UEFI) and qcow2")
    .argument('<channel>', 'development, testing or production')
    .option('--root <dir>', 'root of the git repository', '.')
    .option(
      '--out <dir>',
      'output directory (default: pipeline.yaml image.output, else dist/images)',
    )
    .option(
      '--root-source <source>',
      'cvmfs (the CernVM-FS client) or squashfs (an exported snapshot)',
      'cvmfs',
    )
    .option('--compression <format>', 'initramfs compression: zstd or xz', 'zstd')
    .option('--format <list>', 'images to write, comma-separated: iso, qcow2', 'iso,qcow2')
    .option('--offline', 'use only the package cache: no network')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Inputs: pipeline/image.yaml (pinned packages and the CernVM-FS client archive) and the
channel's repository in pipeline/pipeline.yaml (name, servers, proxy, rolling tag: they go on
the kernel command line). Outputs, under --out: <name>.vmlinuz, .initrd, .iso, .qcow2, each
with a .sha256, and <name>.json describing inputs and sizes. Same inputs, same bytes.

Examples:
  $ ucvm image build development
  $ ucvm image build testing --root-source squashfs --format iso`,
    )
    .action(async (channel: string, options: ImageBuildCommandOptions) => {
      const { buildImage } = await import('../../image/build/build.js');
      const json = options.json === true;
      const result = await buildImage({
        root: options.root,
        channel: parseChannel(channel),
        rootSource: parseChoice(
          options.rootSource,
          ['cvmfs', 'squashfs'] as const,
          '--root-source',
        ),
        compression: parseChoice(options.compression, ['zstd', 'xz'] as const, '--compression'),
        formats: options.format
          .split(',')
          .map((format) => parseChoice(format.trim(), ['iso', 'qcow2'] as const, '--format')),
        ...(options.out !== undefined && { out: options.out }),
        ...(options.offline === true && { offline: true }),
        logger: cliLogger({ quiet: json }),
      });
      emit(json, result, () => formatBuild(result));
    });
}

function parseChannel(value: string): Channel {
  const parsed = Channel.safeParse(value);
  if (!parsed.success)
    throw new UcvmError('USAGE', `unknown channel ${JSON.stringify(value)}`, {
      details: `Use one of ${Channel.options.join(', ')}.`,
    });
  return parsed.data;
}

function parseChoice<T extends string>(value: string, choices: readonly T[], option: string): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UcvmError(
    'USAGE',
    `${option} ${JSON.stringify(value)}: expected ${choices.join(' or ')}`,
  );
}

function formatBuild(result: ImageBuildResult): string {
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
  const lines = [
    `${result.name}: boots ${result.settings.repository} at ${result.settings.tag} (${result.settings.rootSource})`,
    `  kernel    ${result.kernel.version}  ${mb(result.kernel.bytes)}`,
    `  initramfs ${mb(result.initramfs.bytes)} (${mb(result.initramfs.uncompressedBytes)} unpacked, ${result.report.modules.shipped} modules)`,
  ];
  if (result.iso !== undefined)
    lines.push(`  iso       ${mb(result.iso.bytes)}  ${result.iso.file}`);
  if (result.qcow2 !== undefined)
    lines.push(`  qcow2     ${mb(result.qcow2.bytes)}  ${result.qcow2.file}`);
  lines.push(`  described in ${result.description}`);
  return lines.join('\n');
}
