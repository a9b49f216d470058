import { readDirInTree, readFileInTree } from '../reproducible/tree-paths.js';

const infoDir = '/var/lib/dpkg/info';

/**
 * Tree paths (`/usr/bin/x`) that some installed package ships, from dpkg's `info/*.list` files
 * (regular files of the tree: a link there, which dpkg never writes, is TREE_INVALID).
 */
export async function packageOwnedPaths(root: string): Promise<Set<string>> {
  const owned = new Set<string>();
  for (const name of await readDirInTree(root, infoDir)) {
    if (!name.endsWith('.list')) continue;
    const text = (await readFileInTree(root, `${infoDir}/${name}`)).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') owned.add(line);
  }
  return owned;
}
