import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** What a mounted file system shows of a tree, comparable across the source and the mount. */
export function describeTree(root: string): Map<string, string> {
  const result = new Map<string, string>();
  const walk = (dir: string, relative: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const rel = `${relative}/${name}`;
      const st = lstatSync(full);
      const parts = [
        `mode=${(st.mode & 0o177777).toString(8)}`,
        `uid=${st.uid}`,
        `gid=${st.gid}`,
        `mtime=${Math.floor(st.mtimeMs / 1000)}`,
      ];
      if (st.isFile())
        parts.push(
          `size=${st.size}`,
          `sha1=${createHash('sha1').update(readFileSync(full)).digest('hex')}`,
          `nlink=${st.nlink}`,
        );
      if (st.isSymbolicLink()) parts.push(`target=${readlinkSync(full)}`);
      if (st.isCharacterDevice() || st.isBlockDevice()) parts.push(`rdev=${st.rdev}`);
      const xattrs = execFileSync('getfattr', [
        '-h',
        '-d',
        '--absolute-names',
        '-m',
        '^user\\.',
        full,
      ])
        .toString()
        .split('\n')
        .filter((line) => line.startsWith('user.'));
      if (xattrs.length > 0) parts.push(`xattrs=${xattrs.join(',')}`);
      result.set(rel, parts.join(' '));
      if (st.isDirectory()) walk(full, rel);
    }
  };
  walk(root, '');
  return result;
}
