import { writeFile } from 'node:fs/promises';
import { shellQuote, timeShell } from './shell.js';

/** What a tree holds, counted the way the publisher counts (each inode's bytes once). */
export interface Inventory {
  regularFiles: number;
  /** Regular files that are extra names of an inode already counted. */
  hardlinkNames: number;
  bytes: number;
  directories: number;
  symlinks: number;
  /** Sockets, fifos, devices. */
  special: number;
  largestFile: number;
  /** NUL-separated list of one path per regular inode (input of `xargs -0 cat`). */
  listFile: string;
}

/** Walks a tree with `find` (no symlinks followed) and writes the list of its regular files. */
export async function takeInventory(root: string, listFile: string): Promise<Inventory> {
  const { stdout } = await timeShell(`find ${shellQuote(root)} -printf '%y %D:%i %s %p\\0'`);
  const seen = new Set<string>();
  const paths: Buffer[] = [];
  const inventory: Inventory = {
    regularFiles: 0,
    hardlinkNames: 0,
    bytes: 0,
    directories: 0,
    symlinks: 0,
    special: 0,
    largestFile: 0,
    listFile,
  };
  let start = 0;
  while (start < stdout.length) {
    let end = stdout.indexOf(0, start);
    if (end < 0) end = stdout.length;
    const record = stdout.subarray(start, end);
    start = end + 1;
    const firstSpace = record.indexOf(0x20);
    const secondSpace = record.indexOf(0x20, firstSpace + 1);
    const thirdSpace = record.indexOf(0x20, secondSpace + 1);
    const type = record.subarray(0, firstSpace).toString();
    if (type === 'd') inventory.directories++;
    else if (type === 'l') inventory.symlinks++;
    else if (type !== 'f') inventory.special++;
    else {
      const inode = record.subarray(firstSpace + 1, secondSpace).toString();
      if (seen.has(inode)) {
        inventory.hardlinkNames++;
        continue;
      }
      seen.add(inode);
      const size = Number(record.subarray(secondSpace + 1, thirdSpace).toString());
      inventory.regularFiles++;
      inventory.bytes += size;
      inventory.largestFile = Math.max(inventory.largestFile, size);
      paths.push(record.subarray(thirdSpace + 1), Buffer.alloc(1));
    }
  }
  await writeFile(listFile, Buffer.concat(paths));
  return inventory;
}
