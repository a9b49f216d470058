import type { Command } from 'commander';
import { lockImage } from '../../image/inputs/index.js';
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
}

function formatLock(result: ImageLockResult): string {
  if (!result.changed) return `${result.file}: ${result.pins.size} packages pinned, nothing changed`;
  const lines = [`${result.file}: ${result.pins.size} packages pinned`];
  for (const name of result.added) lines.push(`  + ${name} ${result.pins.get(name)!.version}`);
  for (const name of result.removed) lines.push(`  - ${name}`);
  for (const { name, from, to } of result.updated) lines.push(`  ~ ${name} ${from} → ${to}`);
  return lines.join('\n');
}
