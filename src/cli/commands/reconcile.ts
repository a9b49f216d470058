import type { Command } from 'commander';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { Channel } from '../../manifest/schema.js';
import { reconcilePipeline, type ReconcileReport } from '../../reconcile/apply.js';
import { parseSourceDateEpoch } from '../../reproducible/source-date-epoch.js';
import type { InstallMode } from '../../template/install.js';
import { cliLogger, emit } from '../output.js';
import { cliProgress } from '../progress.js';

interface ReconcileCliOptions {
  root: string;
  channel?: string[];
  dryRun?: boolean;
  images?: boolean;
  wait: string;
  json?: boolean;
  cache?: string;
  aptRoot?: string;
  offline?: boolean;
  spool?: string;
  init?: boolean;
  days: string;
  mode?: string;
}

export function parseChannels(names: readonly string[] | undefined): Channel[] | undefined {
  return names?.map((name) => {
    const parsed = Channel.safeParse(name);
    if (!parsed.success)
      throw new UcvmError('USAGE', `unknown channel ${JSON.stringify(name)}`, {
        details: `Channels: ${Channel.options.join(', ')}.`,
      });
    return parsed.data;
  });
}

const modes: readonly InstallMode[] = ['root', 'unshare', 'chrootless'];

function installMode(text: string): InstallMode {
  if ((modes as readonly string[]).includes(text)) return text as InstallMode;
  throw new UcvmError('USAGE', `--mode must be one of ${modes.join(', ')}, got ${text}`);
}

function parseWait(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new UcvmError('USAGE', `--wait takes seconds, got ${JSON.stringify(text)}`);
  return seconds;
}

const verbs: Record<string, string> = {
  publish: 'published',
  promote: 'promoted',
  rollback: 'rolled back to',
  move: 'moved the rolling tag to',
};

export function renderReconcile(report: ReconcileReport): string {
  const lines: string[] = [];
  for (const outcome of report.outcomes) {
    const head = `${outcome.channel.padEnd(12)} ${outcome.repository.padEnd(32)}`;
    switch (outcome.status) {
      case 'unchanged':
        lines.push(`${head} ${outcome.tag}: up to date`);
        break;
      case 'planned':
        lines.push(`${head} would ${outcome.action} ${outcome.tag}`);
        break;
      case 'done':
        // A moved rolling tag adds no revision: the one it names is the snapshot's own.
        lines.push(
          `${head} ${verbs[outcome.action] ?? outcome.action} ${outcome.tag}${outcome.action === 'publish' || outcome.action === 'promote' ? ` (revision ${outcome.revision ?? '?'})` : ''}`,
        );
        break;
      case 'refused':
        for (const refusal of outcome.refusals ?? [])
          lines.push(`${head} refused: ${refusal.code}: ${refusal.message}`);
        break;
      case 'not-reached':
        lines.push(`${head} not reached: a channel before it was refused`);
        break;
    }
    for (const [check, passed] of Object.entries(outcome.checks ?? {}))
      lines.push(`${' '.repeat(45)} check ${check}: ${passed ? 'passed' : 'FAILED'} (recorded)`);
  }
  for (const image of report.images) {
    const what = {
      unchanged: 'up to date',
      planned: 'would build',
      built: 'built',
      failed: 'FAILED',
      skipped: 'skipped',
    };
    const detail = image.status === 'unchanged' ? '' : ` (${image.detail})`;
    lines.push(`image ${image.channel.padEnd(12)} ${image.name}: ${what[image.status]}${detail}`);
  }
  for (const drift of report.drift) lines.push(`drift: ${drift}`);
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  const changed =
    report.outcomes.some((outcome) => outcome.status === 'done' || outcome.status === 'planned') ||
    report.images.some((image) => image.status === 'built' || image.status === 'planned');
  if (report.dryRun) lines.push(changed ? 'dry run: nothing was written' : 'nothing to do');
  else if (!changed && !report.outcomes.some((outcome) => outcome.status === 'refused'))
    lines.push('nothing to do: every repository matches its manifest');
  return lines.join('\n');
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description(
      "make each channel's repository match its manifest: publish, promote, roll back (needs the keys)",
    )
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--channel <name...>', 'only these channels')
    .option('--dry-run', 'print what would be written, write nothing')
    .option('--wait <seconds>', 'queue behind another writer of a repository for this long', '0')
    .option('--cache <dir>', 'apt cache directory for builds (default: ~/.cache/ucvm/apt)')
    .option('--apt-root <dir>', 'machine root whose apt sources and keyrings builds use')
    .option('--offline', 'builds use only the apt cache and the pool, no network')
    .option('--init', 'create repositories that do not exist yet (and keys where there are none)')
    .option('--days <n>', 'whitelist validity of repositories --init creates, in days', '30')
    .option('--mode <mode>', 'mmdebstrap mode for builds: root, unshare or chrootless')
    .option('--spool <dir>', 'directory for the publishers’ caches, one per repository')
    .option('--no-images', "do not build the channels' boot images")
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Then each channel's boot image is built (pipeline/image.yaml) when the output directory has no
build of its current inputs (ucvm plan shows which).
Channels are reconciled in promotion order (pipeline/pipeline.yaml), each planned afresh under
its own repository lock. A refused channel stops it and every channel after it; channels
before are still reconciled. Keys come from each repository's \`keys:\` (e.g. env:UCVM_KEYS_DIR).
Exit status: 0 done or nothing to do, 2 a channel was refused (or bad input), 1 a failure.

Examples:
  $ ucvm reconcile
  $ ucvm reconcile --dry-run
  $ ucvm reconcile --channel production --wait 600`,
    )
    .action(async (options: ReconcileCliOptions) => {
      const json = options.json === true;
      const channels = parseChannels(options.channel);
      const epoch = process.env.SOURCE_DATE_EPOCH;
      const report = await reconcilePipeline({
        root: path.resolve(options.root),
        ...(channels !== undefined && { channels }),
        ...(options.dryRun === true && { dryRun: true }),
        ...(options.images === false && { images: false }),
        waitSeconds: parseWait(options.wait),
        logger: cliLogger({ quiet: json }),
        progress: cliProgress({ json }),
        ...(options.spool !== undefined && { spoolDir: path.resolve(options.spool) }),
        ...(options.init === true && { init: { whitelistDays: Number(options.days) } }),
        build: {
          ...(options.cache !== undefined && { cacheDir: options.cache }),
          ...(options.aptRoot !== undefined && { aptRoot: options.aptRoot }),
          ...(options.offline === true && { offline: true }),
          ...(options.mode !== undefined && { mode: installMode(options.mode) }),
          ...(epoch !== undefined &&
            epoch !== '' && { sourceDateEpoch: parseSourceDateEpoch(epoch, 'SOURCE_DATE_EPOCH') }),
        },
      });
      emit(json, report, () => renderReconcile(report));
      if (report.outcomes.some((outcome) => outcome.status === 'refused')) process.exitCode = 2;
      else if (report.images.some((image) => image.status === 'failed')) process.exitCode = 1;
    });
}
