import type { Command } from 'commander';
import { formatLockResult, lockChannel } from '../../lock/index.js';
import { cliLogger, emit } from '../output.js';

interface LockCommandOptions {
  add?: string[];
  remove?: string[];
  upgrade?: boolean;
  root: string;
  json?: boolean;
  dryRun?: boolean;
  stateDir?: string;
}

export function registerLockCommand(program: Command): void {
  program
    .command('lock')
    .description("pin a channel's packages: resolve install (the roots) with apt into packages")
    .argument('<channel>', 'development, testing or production: manifests/<channel>.yaml')
    .option('--add <package...>', 'add packages to install')
    .option('--remove <package...>', 'remove packages from install (unneeded dependencies go too)')
    .option('--upgrade', 'take the newest versions instead of keeping the pinned ones')
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--dry-run', 'print what would change without writing the manifest')
    .option('--state-dir <dir>', "apt's private state (default: under ~/.cache/ucvm/lock)")
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
apt resolves install plus every Essential package on an empty system, without recommends,
from the sources of pipeline/pipeline.yaml (else the machine's apt sources) for base.suite
and base.architecture. Pinned versions are kept unless --upgrade; the answer is checked to be
a closed set before the manifest is written. On any failure the manifest is left unchanged.

Examples:
  $ ucvm lock development
  $ ucvm lock development --add curl
  $ ucvm lock testing --remove openssh-client --dry-run
  $ ucvm lock production --upgrade --json`,
    )
    .action(async (channel: string, options: LockCommandOptions) => {
      const json = options.json === true;
      const dryRun = options.dryRun === true;
      const result = await lockChannel({
        channel,
        root: options.root,
        add: options.add ?? [],
        remove: options.remove ?? [],
        upgrade: options.upgrade === true,
        dryRun,
        ...(options.stateDir !== undefined && { stateDir: options.stateDir }),
        logger: cliLogger({ quiet: json }),
      });
      emit(json, result, () => formatLockResult(result, { dryRun }));
    });
}
