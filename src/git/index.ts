import { simpleGit } from 'simple-git';
import { UcvmError } from '../errors.js';

/**
 * The files changed between `since` (any git revision: a branch, a tag, a commit) and the
 * working tree of the repository at `root`, committed or not, relative to the repository root.
 * The only place ucvm talks to git.
 */
export async function changedFilesSince(root: string, since: string): Promise<string[]> {
  const git = simpleGit({ baseDir: root });
  try {
    const base = (await git.revparse(['--verify', '--quiet', `${since}^{commit}`])).trim();
    const changed = await git.diff(['--name-only', base, '--']);
    const untracked = await git.raw(['ls-files', '--others', '--exclude-standard']);
    return [...new Set([...changed.split('\n'), ...untracked.split('\n')].filter(Boolean))].sort();
  } catch (error) {
    throw new UcvmError('USAGE', `cannot compare with ${JSON.stringify(since)} in ${root}`, {
      details: `git: ${(error as Error).message.trim().split('\n')[0] ?? ''}\nGive a branch, tag or commit of this repository (e.g. origin/main).`,
      cause: error,
    });
  }
}

/**
 * The commit the working tree's `file` comes from: HEAD, if the file is committed there
 * unchanged; undefined outside git, or when the file has uncommitted changes (a build from
 * such a tree must not claim a commit).
 */
export async function committedVersionOf(root: string, file: string): Promise<string | undefined> {
  const git = simpleGit({ baseDir: root });
  try {
    if (!(await git.checkIsRepo())) return undefined;
    const head = (await git.revparse(['--verify', '--quiet', 'HEAD^{commit}'])).trim();
    const status = await git.raw(['status', '--porcelain', '--', file]);
    return status.trim() === '' ? head : undefined;
  } catch {
    return undefined;
  }
}

/** The content of `file` at `commit`, or undefined if the commit or the file is not there. */
export async function fileAtCommit(
  root: string,
  commit: string,
  file: string,
): Promise<string | undefined> {
  if (!/^[0-9a-f]{7,64}$/.test(commit) || !/^[A-Za-z0-9._/-]+$/.test(file)) return undefined;
  try {
    return await simpleGit({ baseDir: root }).show([`${commit}:${file}`]);
  } catch {
    return undefined;
  }
}

export interface CommitOptions {
  branch: string;
  message: string;
  files: readonly string[];
}

/**
 * Creates `branch` from HEAD with one commit of `files` (as they are in the working tree) and
 * checks it out; refuses if the branch exists or other changes are staged.
 */
export async function commitOnBranch(root: string, options: CommitOptions): Promise<string> {
  const git = simpleGit({ baseDir: root });
  const exists = (await git.branchLocal()).all.includes(options.branch);
  if (exists)
    throw new UcvmError('USAGE', `branch ${options.branch} exists already in ${root}`, {
      details: 'Delete it, or give another name with --branch.',
    });
  const staged = (await git.raw(['diff', '--cached', '--name-only'])).trim();
  if (staged !== '')
    throw new UcvmError(
      'USAGE',
      `other changes are staged in ${root}: ${staged.split('\n').join(', ')}`,
      {
        details: 'Commit or unstage them first: the promotion commit holds only its own change.',
      },
    );
  await git.checkoutLocalBranch(options.branch);
  await git.add([...options.files]);
  // Without a configured identity (a fresh CI runner), the commit is ucvm's own.
  const name = (await git.raw(['config', 'user.name']).catch(() => '')).trim();
  const committer =
    name === ''
      ? simpleGit({ baseDir: root }).env({
          ...process.env,
          GIT_AUTHOR_NAME: 'ucvm',
          GIT_AUTHOR_EMAIL: 'ucvm@localhost',
          GIT_COMMITTER_NAME: 'ucvm',
          GIT_COMMITTER_EMAIL: 'ucvm@localhost',
        })
      : git;
  await committer.commit(options.message, [...options.files]);
  return (await git.revparse(['HEAD'])).trim();
}

/**
 * Every `system.version` that the files ever had in the history of HEAD: the `version:` lines
 * of the `system:` section (two spaces in) that any commit added. Undefined when this is not a
 * git repository or a shallow clone (the history would be incomplete).
 */
export async function versionsInHistory(
  root: string,
  files: readonly string[],
): Promise<Set<string> | undefined> {
  const git = simpleGit({ baseDir: root });
  try {
    if (!(await git.checkIsRepo())) return undefined;
    if ((await git.revparse(['--is-shallow-repository'])).trim() === 'true') return undefined;
    const log = await git.raw(['log', '-p', '--format=', '--unified=0', 'HEAD', '--', ...files]);
    const versions = new Set<string>();
    for (const match of log.matchAll(/^\+ {2}version: *["']?([^"'\s#]+)/gm))
      versions.add(match[1]!);
    return versions;
  } catch {
    return undefined;
  }
}
