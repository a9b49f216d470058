import { parse } from 'yaml';
import { UcvmError } from '../errors.js';
import { run, runBinary } from '../exec/index.js';

/** A commit that set a manifest's `system.version` to a new value. */
export interface VersionCommit {
  /** Full commit hash. */
  commit: string;
  author: string;
  email: string;
  /** Author date, ISO 8601 with the author's offset (as `git log --format=%aI`). */
  date: string;
  subject: string;
  /** `system.version` after the commit. */
  version: string;
  /** `system.name` after the commit (the tag is `<name>-<version>`). */
  name: string;
}

export interface GitVersions {
  /** Newest first, as `git log` lists them. */
  commits: VersionCommit[];
  /** Why the git side is empty or incomplete (not a repository, a shallow clone). */
  warnings: string[];
}

// Unit and record separators: neither occurs in names, e-mails, dates or subjects.
const FIELD = '\x1f';
const RECORD = '\x1e';

async function git(root: string, args: readonly string[], okExitCodes?: readonly number[]) {
  return run('git', ['-c', 'log.showSignature=false', '-c', 'core.quotePath=false', ...args], {
    cwd: root,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' },
    ...(okExitCodes !== undefined && { okExitCodes }),
  });
}

/** `system.name` and `system.version` of a manifest's text, or undefined if it has none. */
export function systemOf(text: string): { name: string; version: string } | undefined {
  let document: unknown;
  try {
    document = parse(text, { maxAliasCount: 100 });
  } catch {
    return undefined;
  }
  if (typeof document !== 'object' || document === null) return undefined;
  const system = (document as { system?: unknown }).system;
  if (typeof system !== 'object' || system === null) return undefined;
  const { name, version } = system as { name?: unknown; version?: unknown };
  if (typeof version !== 'string' && typeof version !== 'number') return undefined;
  return {
    name: typeof name === 'string' ? name : 'cernvm-system',
    version: String(version),
  };
}

/**
 * Parses `git cat-file --batch` output: per request either `<oid> <type> <size>\n<bytes>\n` or
 * `<request> missing\n` (and `ambiguous`). Sizes are bytes, so this works on a Buffer.
 */
export function parseCatFileBatch(output: Buffer, count: number): (string | undefined)[] {
  const results: (string | undefined)[] = [];
  let offset = 0;
  for (let index = 0; index < count; index += 1) {
    const end = output.indexOf(0x0a, offset);
    if (end < 0) throw new UcvmError('COMMAND_FAILED', 'git cat-file --batch: output cut short');
    const header = output.toString('utf8', offset, end);
    offset = end + 1;
    const match = /^[0-9a-f]+ (\S+) (\d+)$/.exec(header);
    if (match === null) {
      results.push(undefined);
      continue;
    }
    const size = Number(match[2]);
    results.push(match[1] === 'blob' ? output.toString('utf8', offset, offset + size) : undefined);
    offset += size + 1;
  }
  return results;
}

/**
 * The commits that changed `system.version` of `file` (relative to `root`), newest first, read
 * with `git log` and `git cat-file` in `root`'s repository. A commit counts when the version it
 * leaves differs from its first parent's (or the file is new). Not a git repository: no commits
 * and a warning, since the repository's side still stands on its own.
 */
export async function versionCommits(root: string, file: string): Promise<GitVersions> {
  const probe = await git(
    root,
    ['rev-parse', '--show-prefix', '--is-shallow-repository'],
    [0, 128],
  );
  if (probe.exitCode !== 0) {
    if (/not a git repository/i.test(probe.stderr))
      return {
        commits: [],
        warnings: [
          `${root} is not in a git repository: versions from the channel's repository only`,
        ],
      };
    throw new UcvmError('COMMAND_FAILED', `git cannot read the repository at ${root}`, {
      details: probe.stderr.trim().split('\n').slice(0, 5).join('\n'),
    });
  }
  const [prefix = '', shallow = 'false'] = probe.stdout.split('\n');
  const warnings =
    shallow.trim() === 'true'
      ? [
          'this is a shallow clone: older commits are missing from the history (fetch the full history, e.g. actions/checkout with fetch-depth: 0)',
        ]
      : [];
  const hasHead = await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD'], [0, 1]);
  if (hasHead.exitCode !== 0) return { commits: [], warnings };
  const log = await git(root, [
    'log',
    `--format=%H${FIELD}%P${FIELD}%aN${FIELD}%aE${FIELD}%aI${FIELD}%s${RECORD}`,
    'HEAD',
    '--',
    file,
  ]);
  const entries = log.stdout
    .split(RECORD)
    .map((record) => record.replace(/^\n/, ''))
    .filter((record) => record !== '')
    .map((record) => {
      const [commit = '', parents = '', author = '', email = '', date = '', subject = ''] =
        record.split(FIELD);
      return { commit, parent: parents.split(' ')[0] || undefined, author, email, date, subject };
    });
  if (entries.length === 0) return { commits: [], warnings };
  const repoPath = `${prefix.trim()}${file}`;
  const requests = entries.flatMap((entry) => [
    `${entry.commit}:${repoPath}`,
    entry.parent === undefined ? `${entry.commit}:${repoPath}` : `${entry.parent}:${repoPath}`,
  ]);
  const output = await runBinary('git', ['cat-file', '--batch'], {
    cwd: root,
    input: `${requests.join('\n')}\n`,
  });
  const texts = parseCatFileBatch(output, requests.length);
  const commits: VersionCommit[] = [];
  entries.forEach((entry, index) => {
    const after = texts[index * 2];
    const before = entry.parent === undefined ? undefined : texts[index * 2 + 1];
    const now = after === undefined ? undefined : systemOf(after);
    if (now === undefined) return;
    const then = before === undefined ? undefined : systemOf(before);
    if (then !== undefined && then.version === now.version && then.name === now.name) return;
    const { commit, author, email, date, subject } = entry;
    commits.push({ commit, author, email, date, subject, version: now.version, name: now.name });
  });
  return { commits, warnings };
}
