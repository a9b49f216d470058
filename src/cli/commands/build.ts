import type { Command } from 'commander';
import { buildChannel, type ChannelBuild } from '../../template/channel.js';
import type { InstallMode } from '../../template/install.js';
import { parseSourceDateEpoch } from '../../reproducible/source-date-epoch.js';
import { UcvmError } from '../../errors.js';
import { cliLogger, emit } from '../output.js';
import { cliProgress } from '../progress.js';
import { addWriterOptions, openPublisher, type RepoOptions } from '../repo-options.js';

interface BuildOptions extends RepoOptions {
  out?: string;
  publish?: string;
  root: string;
  cache?: string;
  pool?: string;
  aptRoot?: string;
  offline?: boolean;
  sourceDateEpoch?: string;
  mode?: string;
}

const modes: readonly InstallMode[] = ['root', 'unshare', 'chrootless'];

function installMode(text: string | undefined): InstallMode | undefined {
  if (text === undefined) return undefined;
  if ((modes as readonly string[]).includes(text)) return text as InstallMode;
  throw new UcvmError('USAGE', `--mode must be one of ${modes.join(', ')}, got ${text}`);
}

function sourceDateEpoch(options: BuildOptions): number | undefined {
  if (options.sourceDateEpoch !== undefined)
    return parseSourceDateEpoch(options.sourceDateEpoch, '--source-date-epoch');
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  return fromEnv === undefined || fromEnv === ''
    ? undefined
    : parseSourceDateEpoch(fromEnv, 'SOURCE_DATE_EPOCH');
}

function renderText(result: ChannelBuild): string {
  const { build, published } = result;
  const lines = [
    `built ${build.tag} for channel ${result.channel}: ${build.packages.length} packages + ${build.meta.name} ${build.meta.version}`,
    `  SOURCE_DATE_EPOCH  ${build.sourceDateEpoch}`,
    ...(build.pooled > 0 ? [`  pool               ${build.pooled} new package files kept`] : []),
    `  time               ${build.seconds.toFixed(1)} s`,
  ];
  if (published === undefined) lines.splice(1, 0, `  tree               ${build.out}`);
  else
    lines.push(
      published.unchanged
        ? `${published.tag} already holds exactly this tree (revision ${published.revision}); nothing written`
        : `published ${published.fqrn} revision ${published.revision} as ${published.tag} (root ${published.rootHash})`,
    );
  return lines.join('\n');
}

export function registerBuildCommand(program: Command): void {
  addWriterOptions(
    program
      .command('build')
      .description(
        "build a channel's OS tree from its manifest: exactly the pinned packages plus the meta package",
      )
      .argument('<channel>', 'the channel whose manifests/<channel>.yaml is built')
      .option('--out <dir>', 'write the tree here (must not exist or be empty)')
      .option(
        '--publish <storage>',
        'publish the tree into this repository as <system.name>-<system.version>',
      )
      .option('--root <dir>', 'root of the git repository', process.cwd())
      .option('--cache <dir>', 'apt cache directory (default: ~/.cache/ucvm/apt)')
      .option(
        '--pool <dir>',
        'package pool: keep every .deb used; take what the archive dropped from it',
      )
      .option('--apt-root <dir>', 'machine root whose apt sources and keyrings are used', '/')
      .option('--offline', 'use only the apt cache and the pool, no network')
      .option(
        '--source-date-epoch <seconds>',
        'mtime clamp (default: $SOURCE_DATE_EPOCH, else the newest package build time)',
      )
      .option(
        '--mode <mode>',
        'mmdebstrap mode: root, unshare or chrootless (default: root as root, else unshare)',
      ),
  )
    .addHelpText(
      'after',
      `
The packages come from the machine's apt sources (verified against their signed Release files),
then, with --pool, from the pool. The tree is reproducible: two builds of one manifest are equal.

Examples:
  $ ucvm build testing --out build/testing
  $ ucvm build testing --out build/testing --pool /srv/ucvm/pool --cache /var/cache/ucvm/apt
  $ ucvm build production --publish srv/cernvm-prod.example.org --keys /etc/ucvm/keys --pool /srv/ucvm/pool
  $ ucvm build testing --publish srv/cernvm-testing.example.org --json`,
    )
    .action(async (channel: string, options: BuildOptions) => {
      const json = options.json === true;
      const mode = installMode(options.mode);
      const epoch = sourceDateEpoch(options);
      const result = await buildChannel({
        root: options.root,
        channel,
        ...(options.out !== undefined && { out: options.out }),
        ...(options.publish !== undefined && {
          publisher: openPublisher(options.publish, options),
        }),
        ...(options.cache !== undefined && { cacheDir: options.cache }),
        ...(options.pool !== undefined && { poolDir: options.pool }),
        ...(options.aptRoot !== undefined && { aptRoot: options.aptRoot }),
        ...(options.offline === true && { offline: true }),
        ...(mode !== undefined && { mode }),
        ...(epoch !== undefined && { sourceDateEpoch: epoch }),
        logger: cliLogger({ quiet: json }),
        progress: cliProgress({ json }),
      });
      const { channel: name, manifest, build, published } = result;
      emit(json, { channel: name, system: manifest.system, build, published }, () =>
        renderText(result),
      );
    });
}
