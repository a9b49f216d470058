import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The native file-system addon (native/*.c, built by `npm run build` where a C compiler is):
 * the calls node:fs lacks or makes several times dearer than the system calls themselves. Each
 * has a fallback through node:fs or a program, with the same result; the tests hold each pair
 * to it.
 */
export interface NativeAddon {
  /**
   * The records of a directory's entries and the strings made for plain ones, with the entries
   * that may have extended attributes marked if asked (see native/list-directory.c and
   * src/publisher/embedded/directory-listing.ts).
   */
  listDirectory(
    source: string,
    path: string,
    xattrs?: boolean,
  ): [Buffer, Array<string | undefined>];
  /**
   * The extended attributes of an entry (a symlink itself, not its target), as name, value,
   * name, value…; undefined if it has none (native/xattrs.c). Throws with the errno's name.
   */
  readXattrs(path: string): Array<string | Buffer> | undefined;
  /**
   * Writes `bytes` as an unnamed file in `directory` and links it as `target`: true if written,
   * false if `target` exists, undefined where the file system makes no unnamed files
   * (native/write-object.c). Throws with the errno's name.
   */
  writeObject(directory: string, target: string, bytes: Uint8Array): boolean | undefined;
  /** syncfs(2) of the file system holding the directory, off the main thread (native/sync.c). */
  syncFileSystem(directory: string): Promise<void>;
}

/**
 * The built addon: dist/native/ beside dist/src/ when this runs from the build, or the
 * project's dist/native/ when it runs from its TypeScript source (tests).
 */
function addonPath(): string | undefined {
  const candidates = [
    new URL('../../native/file-system.node', import.meta.url),
    new URL('../../dist/native/file-system.node', import.meta.url),
  ].map((url) => fileURLToPath(url));
  return candidates.find((candidate) => existsSync(candidate));
}

function load(): NativeAddon | undefined {
  const path = addonPath();
  if (path === undefined) return undefined;
  try {
    return createRequire(import.meta.url)(path) as NativeAddon;
  } catch {
    // Built for another machine or C library: the fallbacks do the same work.
    return undefined;
  }
}

/** The addon where it is built and loads, else undefined. */
export const nativeAddon: NativeAddon | undefined = load();
