import type { Command } from 'commander';
import path from 'node:path';
import { hotfixChannel, type HotfixResult } from '../../promote/hotfix.js';
import { promoteChannel, type PromoteResult } from '../../promote/promote.js';
import { cliLogger, emit } from '../output.js';
import { parseChannels } from './reconcile.js';

function oneChannel(name: string) {
  return parseChannels([name])![0]!;
}

function branchOption(options: { branch?: string; commit?: boolean }): string | false | undefined {
  if (options.commit === false) return false;
  return options.branch;
}

function renderPromote(result: PromoteResult): string {
  if (!result.changed) return `${result.file} asks for ${result.tag} already: nothing to promote`;
  const { packages } = result;
  return [
    `${result.title}`,
    `  ${result.file}: ${packages.upgraded.length} upgraded, ${packages.downgraded.length} downgraded, ${packages.added.length} added, ${packages.removed.length} removed`,
    result.branch === undefined
      ? '  edited the manifest (not committed)'
      : `  committed ${result.commit?.slice(0, 12)} on branch ${result.branch}: push it and open a pull request`,
  ].join('\n');
}

function renderHotfix(result: HotfixResult): string {
  return [
    result.title,
    ...result.packages.upgraded.map((change) => `  ${change.name} ${change.from} → ${change.to}`),
    result.branch === undefined
      ? '  edited the manifest (not committed)'
      : `  committed ${result.commit?.slice(0, 12)} on branch ${result.branch}: push it and open a pull request`,
  ].join('\n');
}

export function registerPromoteCommands(program: Command): void {
  program
    .command('promote')
    .description(
      "ask for a version of the channel before in the next channel's manifest, committed on a branch",
    )
    .argument('<from-channel>', 'the channel that holds the version')
    .argument('<to-channel>', 'the channel after it in the promotion order')
    .option('--version <version>', 'the version to promote (default: what <from-channel> runs)')
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--branch <name>', 'branch to commit on (default: ucvm/promote-<to>-<version>)')
    .option('--no-commit', 'only edit the manifest')
    .option('--remote', 'read the source repository through its url (read-only, public key only)')
    .option('--json', 'print the result as JSON (branch, commit, title, body for the pull request)')
    .addHelpText(
      'after',
      `
The target manifest gets the version's system, base, install, packages and files as the
manifest it was published from has them (comments included); its other lines stay. Merge the
pull request and \`ucvm reconcile\` copies the snapshot.
Exit status: 0 done, 2 refused (a version the channel before does not hold, a skipped channel).

Examples:
  $ ucvm promote development testing
  $ ucvm promote testing production --version 1.4.0 --json`,
    )
    .action(
      async (
        from: string,
        to: string,
        options: {
          version?: string;
          root: string;
          branch?: string;
          commit?: boolean;
          remote?: boolean;
          json?: boolean;
        },
      ) => {
        const branch = branchOption(options);
        const result = await promoteChannel({
          ...(options.remote === true && { remote: true }),
          root: path.resolve(options.root),
          from: oneChannel(from),
          to: oneChannel(to),
          ...(options.version !== undefined && { version: options.version }),
          ...(branch !== undefined && { branch }),
        });
        emit(options.json === true, result, () => renderPromote(result));
      },
    );

  program
    .command('hotfix')
    .description(
      'a security hotfix of the last channel: patch bump, re-locked packages, hotfix marker, on a branch',
    )
    .argument('<channel>', 'the last channel of the promotion order (production)')
    .requiredOption('--upgrade <package...>', 'packages to upgrade to the newest version')
    .requiredOption('--reason <text>', 'why this skips the promotion')
    .option('--advisory <id...>', 'security advisories fixed (DSA-…, CVE-…)')
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--branch <name>', 'branch to commit on (default: ucvm/hotfix-<channel>-<version>)')
    .option('--no-commit', 'only edit the manifest')
    .option('--state-dir <dir>', "apt's private state (default: under ~/.cache/ucvm/lock)")
    .option('--apt-root <dir>', 'machine root whose apt sources are used', '/')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ ucvm hotfix production --upgrade openssl libssl3 --reason "DSA-5678-1" --advisory DSA-5678-1`,
    )
    .action(
      async (
        channel: string,
        options: {
          upgrade: string[];
          reason: string;
          advisory?: string[];
          root: string;
          branch?: string;
          commit?: boolean;
          stateDir?: string;
          aptRoot: string;
          json?: boolean;
        },
      ) => {
        const branch = branchOption(options);
        const result = await hotfixChannel({
          root: path.resolve(options.root),
          channel: oneChannel(channel),
          upgrade: options.upgrade,
          reason: options.reason,
          rootDir: options.aptRoot,
          logger: cliLogger({ quiet: options.json === true }),
          ...(options.advisory !== undefined && { advisories: options.advisory }),
          ...(options.stateDir !== undefined && { stateDir: options.stateDir }),
          ...(branch !== undefined && { branch }),
        });
        emit(options.json === true, result, () => renderHotfix(result));
      },
    );
}
