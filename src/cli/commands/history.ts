import type { Command } from 'commander';
import { channelHistory, type ChannelHistory, type VersionHistory } from '../../history/index.js';
import { cliLogger, emit, printable } from '../output.js';

/** `2025-01-31T12:00:00.000Z` → `2025-01-31 12:00:00Z`. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+(?=Z$)/, '');
}

/** A git author date (`2025-01-31T13:00:00+01:00`) as UTC, like the publish times. */
function utc(date: string): string {
  const time = Date.parse(date);
  return Number.isNaN(time) ? date : shortTime(new Date(time).toISOString());
}

function columns(version: VersionHistory, rollingTag: string): string[] {
  const { commit, published } = version;
  const provenance = published?.provenance;
  const hash = commit?.commit ?? provenance?.commit;
  const author =
    commit === undefined
      ? provenance?.actor === undefined
        ? '-'
        : `@${provenance.actor}`
      : commit.author;
  const notes: string[] = [];
  if (version.rolling) notes.push(`← ${rollingTag}`);
  if (version.promotedFrom !== undefined)
    notes.push(`promoted from ${version.promotedFrom.repository} ${version.promotedFrom.tag}`);
  const setAgain = version.commits.filter((other) => other.commit !== commit?.commit);
  if (setAgain.length > 0)
    notes.push(`set again in ${setAgain.map((other) => other.commit.slice(0, 8)).join(', ')}`);
  if (version.desired) notes.push('(manifest)');
  return [
    version.version,
    published === undefined ? 'not published' : shortTime(published.publishedAt),
    hash === undefined ? '-' : hash.slice(0, 8),
    commit === undefined ? '-' : utc(commit.date),
    author,
    notes.join('  '),
  ].map((cell) => printable(cell));
}

export function renderHistory(history: ChannelHistory): string {
  const { repository } = history;
  const rollingVersions = history.versions.filter((version) => version.rolling);
  const header = `${history.channel}: ${repository.fqrn} (${printable(repository.location)})${
    repository.exists
      ? `, ${repository.rollingTag} → ${
          rollingVersions.length > 0
            ? rollingVersions.map((version) => version.version).join(', ')
            : (repository.rollingTarget ?? 'missing')
        }`
      : ', not created yet'
  }`;
  const rows = [
    ['version', 'published', 'commit', 'date', 'author', ''],
    ...history.versions.map((version) => columns(version, repository.rollingTag)),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  );
  return [header, ...lines].join('\n');
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description(
      "a channel's versions, newest first: the git commit that set each, publish time, provenance and the rolling tag",
    )
    .argument('<channel>', 'the channel whose manifests/<channel>.yaml and repository are read')
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--remote', 'read the repository through its url (default: its storage directory)')
    .option('--json', 'print every version record as JSON')
    .addHelpText(
      'after',
      `
The versions come from git (each commit that changed system.version of manifests/<channel>.yaml:
hash, author, date) and from the channel's repository (its tags <system.name>-<version>, verified
with the master public key only, with the provenance of their descriptions: commit, actor,
workflow run, time, and where a promotion came from). "← HEAD" marks the version the rolling tag
points at now; "(manifest)" the version the manifest asks for.

Exit status: 0 success, 1 error (a repository that cannot be read or verified, git failing), 2 bad input (e.g. an unknown channel).

Examples:
  $ ucvm history production
  $ ucvm history testing --remote --json`,
    )
    .action(
      async (channel: string, options: { root: string; remote?: boolean; json?: boolean }) => {
        const history = await channelHistory({
          root: options.root,
          channel,
          ...(options.remote === true && { remote: true }),
        });
        const logger = cliLogger({ quiet: options.json === true });
        for (const warning of history.warnings) logger.warn(warning);
        emit(options.json === true, history, () => renderHistory(history));
      },
    );
}
