import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveDirInTree } from '../reproducible/tree-paths.js';

/** Tree paths (`/usr/bin/x`) that some installed package ships, from dpkg's `info/*.list` files. */
export async function packageOwnedPaths(root: string): Promise<Set<string>> {
  const info = await resolveDirInTree(root, '/var/lib/dpkg/info');
  const owned = new Set<string>();
  for (const name of await readdir(info)) {
    if (!name.endsWith('.list')) continue;
    for (const line of (await readFile(path.join(info, name), 'utf8')).split('\n')) {
      if (line !== '') owned.add(line);
    }
  }
  return owned;
}
