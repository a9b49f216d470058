import type { Tag } from '../../cvmfs/history.js';

/**
 * Parses `cvmfs_server tag -lx` (swissknife's machine-readable tag list): one tag a line,
 * `<name> <root hash> <size> <revision> <timestamp> <branch> <description…>`; the description
 * is the rest of the line and may be empty. Lines that do not fit are skipped: the tool prints
 * warnings on the same stream.
 */
export function parseTagList(text: string): Tag[] {
  const tags: Tag[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) ([0-9a-f]{40,}(?:-[a-z0-9]+)?) (\d+) (\d+) (\d+) (\S+) ?(.*)$/.exec(
      line.trimEnd(),
    );
    if (match === null) continue;
    const [, name, hash, size, revision, timestamp, branch, description] =
      match as unknown as string[];
    tags.push({
      name: name!,
      hashHex: hash!,
      size: Number(size),
      revision: Number(revision),
      timestamp: Number(timestamp),
      branch: branch === '(default)' ? '' : branch!,
      description: description ?? '',
    });
  }
  return tags;
}
