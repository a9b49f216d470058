import type { Command } from 'commander';
import { hasSecurityUpdates, outdatedPackages, type OutdatedReport } from '../../outdated/index.js';
import { cliLogger, emit, printable } from '../output.js';

/** `--detailed-exitcode`: the status when a security update is pending (as plan's 3). */
export const OUTDATED_SECURITY_EXIT = 3;

interface OutdatedOptions {
  root: string;
  json?: boolean;
  cache?: string;
  aptRoot?: string;
  offline?: boolean;
  detailedExitcode?: boolean;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  '),
  );
}

export function renderOutdated(report: OutdatedReport): string {
  const lines: string[] = [];
  const security = report.packages.filter((entry) => entry.security).length;
  if (report.packages.length === 0) {
    lines.push(`${report.channel}: all ${report.pinned} pinned packages are up to date`);
  } else {
    lines.push(
      ...table([
        ['package', 'pinned', 'available', 'security', 'origin'],
        ...report.packages.map((entry) => [
          printable(entry.name),
          printable(entry.pinned),
          printable(entry.available),
          entry.security ? 'yes' : '-',
          printable(entry.origin),
        ]),
      ]),
      '',
      `${report.channel}: ${report.packages.length} of ${report.pinned} pinned packages have a newer version, ${security === 0 ? 'no security update' : `${security} with a security update`}`,
    );
  }
  for (const entry of report.missing)
    lines.push(
      `not in the sources any more: ${printable(entry.name)} (pinned ${printable(entry.pinned)})`,
    );
  return lines.join('\n');
}

export function registerOutdatedCommand(program: Command): void {
  program
    .command('outdated')
    .description(
      "the channel's pinned packages for which its package sources have a newer version, security updates marked",
    )
    .argument('<channel>', 'the channel whose manifests/<channel>.yaml is checked')
    .option('--root <dir>', 'root of the git repository', '.')
    .option(
      '--json',
      'print { channel, packages: [{ name, pinned, available, security, origin }] }',
    )
    .option('--cache <dir>', 'apt cache directory (default: ~/.cache/ucvm/apt)')
    .option('--apt-root <dir>', 'machine root whose apt sources and keyrings are used', '/')
    .option('--offline', 'use only the apt cache, no network')
    .option(
      '--detailed-exitcode',
      `exit ${OUTDATED_SECURITY_EXIT} when a security update is pending, 0 when not`,
    )
    .addHelpText(
      'after',
      `
The sources are those ucvm lock resolves from: pipeline.yaml's sources, else the machine's apt
sources (under --apt-root), for the manifest's base.suite and architecture, each verified against
its signed Release file. A newer version found in a security suite (<suite>-security) marks the
package as a security update. Packages the sources no longer carry at all are named after the
table (on stderr with --json).

Exit status: 0 success (outdated packages or not), ${OUTDATED_SECURITY_EXIT} a security update is pending (with --detailed-exitcode), 1 error (e.g. a source that cannot be read or verified), 2 bad input (e.g. an unknown channel).

Examples:
  $ ucvm outdated production
  $ ucvm outdated production --json --detailed-exitcode > outdated.json`,
    )
    .action(async (channel: string, options: OutdatedOptions) => {
      const json = options.json === true;
      const logger = cliLogger({ quiet: json });
      const report = await outdatedPackages({
        root: options.root,
        channel,
        logger,
        ...(options.cache !== undefined && { cacheDir: options.cache }),
        ...(options.aptRoot !== undefined && { aptRoot: options.aptRoot }),
        ...(options.offline === true && { offline: true }),
      });
      if (json)
        for (const entry of report.missing)
          logger.warn('pinned package not in the sources any more', {
            package: entry.name,
            pinned: entry.pinned,
          });
      emit(json, { channel: report.channel, packages: report.packages }, () =>
        renderOutdated(report),
      );
      if (options.detailedExitcode === true && hasSecurityUpdates(report))
        process.exitCode = OUTDATED_SECURITY_EXIT;
    });
}
