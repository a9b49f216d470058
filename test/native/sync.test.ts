import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../src/native/addon.js';
import { syncFileSystem } from '../../src/native/sync.js';
import { tmpdir } from '../helpers/tmp.js';

describe('syncing a file system', () => {
  it('syncs the file system of a directory', async () => {
    await expect(syncFileSystem(await tmpdir())).resolves.toBeUndefined();
  });

  it('fails with an error that names a directory that is not there', async () => {
    const gone = path.join(await tmpdir(), 'gone');
    const failure = syncFileSystem(gone);
    if (nativeAddon === undefined)
      await expect(failure).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
    else
      await expect(failure).rejects.toMatchObject({
        code: 'STORAGE_IO',
        message: `cannot sync ${gone}: ENOENT`,
      });
  });

  it.runIf(nativeAddon !== undefined)('takes a path and nothing else', () => {
    const addon = nativeAddon as unknown as { syncFileSystem(...args: unknown[]): unknown };
    expect(() => addon.syncFileSystem(42)).toThrow(TypeError);
    expect(() => addon.syncFileSystem()).toThrow('syncFileSystem(path) takes a string');
  });
});
