import { run } from '../exec/index.js';
import { storageError } from '../storage/errors.js';
import { nativeAddon } from './addon.js';

/**
 * Writes the whole file system that holds `directory` to disk (syncfs(2)): one call instead of
 * an fsync per file. Through the addon where it is built, else `sync -f`, a process more.
 */
export async function syncFileSystem(directory: string): Promise<void> {
  if (nativeAddon === undefined) {
    await run('sync', ['-f', directory]);
    return;
  }
  try {
    await nativeAddon.syncFileSystem(directory);
  } catch (error) {
    throw storageError(error, directory, 'sync');
  }
}
