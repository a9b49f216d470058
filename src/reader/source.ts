import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { UcvmError } from '../errors.js';
import { httpBody, httpExists, type HttpTimeouts } from './http.js';
import { READ_LIMITS } from './limits.js';

/** Per-read limits. Anything fetched is untrusted: its size is bounded. */
export interface ReadOptions {
  /** Refuse a file larger than this many bytes (default `READ_LIMITS.defaultBytes`). */
  maxBytes?: number;
}

/**
 * Read-only access to a repository's files by their path relative to the repository base
 * (`.cvmfspublished`, `data/ab/cd…C`). A directory and an HTTP base URL look the same.
 */
export interface RepoSource {
  /** A directory path or an URL, for messages. */
  readonly location: string;
  /** The bytes of a file, or undefined if it does not exist. */
  read(relative: string, options?: ReadOptions): Promise<Buffer | undefined>;
  /** The bytes of a file as they arrive (large contents), or undefined if it does not exist. */
  stream(relative: string, options?: ReadOptions): Promise<AsyncIterable<Buffer> | undefined>;
  /** Whether a file exists, without reading it (a replica check asks this of every object). */
  has(relative: string): Promise<boolean>;
}

/** The names a repository base holds; anything else (`..`, absolute paths, queries) is refused. */
const REPOSITORY_FILE =
  /^(?:\.cvmfspublished|\.cvmfswhitelist|\.cvmfsreflog|\.ucvm-storage-id|data\/[0-9a-f]{2}\/[0-9a-f]{38}(?:-rmd160|-shake128)?[PCHXM]?)$/;

function checkName(location: string, relative: string): void {
  if (!REPOSITORY_FILE.test(relative))
    throw new UcvmError(
      'REPO_CORRUPT',
      `refusing to read ${JSON.stringify(relative.slice(0, 100))} from ${location}: not a repository file name`,
    );
}

export function tooLarge(where: string, size: number, limit: number): UcvmError {
  return new UcvmError(
    'LIMIT_EXCEEDED',
    `${where} is ${size} bytes, more than the ${limit} allowed`,
    {
      details: 'Not read: a repository file this large is corrupt or hostile.',
      where: { path: where },
    },
  );
}

async function collect(pieces: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of pieces) parts.push(piece);
  return Buffer.concat(parts);
}

/**
 * A repository in a directory. The directories on the way must resolve inside it, the file
 * itself is opened without following a symlink, and only regular files are read.
 */
export function directorySource(directory: string): RepoSource {
  const root = resolve(directory);
  async function openFile(
    relative: string,
    limit: number,
  ): Promise<{ handle: FileHandle; size: number } | undefined> {
    checkName(root, relative);
    const file = join(root, relative);
    let handle: FileHandle;
    try {
      const parent = await realpath(dirname(file));
      const realRoot = await realpath(root);
      if (parent !== realRoot && !parent.startsWith(realRoot + sep))
        throw new UcvmError('REPO_CORRUPT', `${file} leads outside ${root}`, {
          details: 'A directory of the repository is a symbolic link that points elsewhere.',
          where: { path: file },
        });
      handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP')
        throw new UcvmError('REPO_CORRUPT', `${file} is a symbolic link`, {
          where: { path: file },
        });
      throw error;
    }
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size > limit) {
      await handle.close();
      if (!stats.isFile())
        throw new UcvmError('REPO_CORRUPT', `${file} is not a regular file`, {
          where: { path: file },
        });
      throw tooLarge(file, stats.size, limit);
    }
    return { handle, size: stats.size };
  }
  async function* pieces(handle: FileHandle, limit: number): AsyncGenerator<Buffer> {
    try {
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (let position = 0; ;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        // The file may grow after the check: never read past the limit.
        if (position > limit) throw tooLarge(root, position, limit);
        yield Buffer.from(buffer.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  }
  return {
    location: root,
    async read(relative, options = {}) {
      const limit = options.maxBytes ?? READ_LIMITS.defaultBytes;
      const opened = await openFile(relative, limit);
      return opened === undefined ? undefined : collect(pieces(opened.handle, limit));
    },
    async stream(relative, options = {}) {
      const limit = options.maxBytes ?? READ_LIMITS.defaultBytes;
      const opened = await openFile(relative, limit);
      return opened === undefined ? undefined : pieces(opened.handle, limit);
    },
    async has(relative) {
      const opened = await openFile(relative, Number.MAX_SAFE_INTEGER);
      await opened?.handle.close();
      return opened !== undefined;
    },
  };
}

/**
 * A repository behind an HTTP base URL, read as the client reads it: no redirects, no content
 * encoding, every request bounded in time (connect, idle, total) and in size.
 */
export function httpSource(baseUrl: string, timeouts?: Partial<HttpTimeouts>): RepoSource {
  const base = baseUrl.replace(/\/+$/, '');
  return bodySource(
    base,
    (relative, options) =>
      httpBody(`${base}/${relative}`, {
        maxBytes: options.maxBytes ?? READ_LIMITS.defaultBytes,
        ...(timeouts !== undefined && { timeouts }),
      }),
    (relative) => httpExists(`${base}/${relative}`, timeouts),
  );
}

/**
 * A source from a fetch of a body and an existence check, for stores read by request (HTTP, S3):
 * every name is checked before it is asked for.
 */
export function bodySource(
  location: string,
  get: (relative: string, options: ReadOptions) => Promise<AsyncIterable<Buffer> | undefined>,
  has: (relative: string) => Promise<boolean>,
): RepoSource {
  const checked = <T>(relative: string, work: () => Promise<T>): Promise<T> => {
    checkName(location, relative);
    return work();
  };
  return {
    location,
    async read(relative, options = {}) {
      const body = await checked(relative, () => get(relative, options));
      return body === undefined ? undefined : collect(body);
    },
    stream: (relative, options = {}) => checked(relative, () => get(relative, options)),
    has: (relative) => checked(relative, () => has(relative)),
  };
}

export function isUrl(text: string): boolean {
  return /^https?:\/\//.test(text);
}

/** A source for a user-given location: an http(s) URL or a directory. */
export function openSource(location: string, timeouts?: Partial<HttpTimeouts>): RepoSource {
  return isUrl(location) ? httpSource(location, timeouts) : directorySource(location);
}

/**
 * The repository name a location implies: the last component of the URL's path or of the
 * resolved directory (`…/cvmfs/<fqrn>`, also for `.` or `srv/x.example.org/`). Never the
 * name the repository's own files claim.
 */
export function fqrnOfLocation(location: string): string {
  let path: string;
  if (location.startsWith('s3://')) {
    path = location.slice('s3:/'.length);
  } else if (isUrl(location)) {
    let pathname: string;
    try {
      pathname = new URL(location).pathname;
    } catch {
      throw new UcvmError('USAGE', `${JSON.stringify(location)} is not a valid URL`);
    }
    try {
      path = decodeURIComponent(pathname);
    } catch {
      path = pathname;
    }
  } else {
    path = resolve(location);
  }
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
