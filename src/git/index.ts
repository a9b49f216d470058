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
