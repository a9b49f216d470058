import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UcvmError } from '../errors.js';

/**
 * Read-only access to a repository's files by their path relative to the repository base
 * (`.cvmfspublished`, `data/ab/cd…C`). A directory and an HTTP base URL look the same.
 */
export interface RepoSource {
  /** A directory path or an URL, for messages. */
  readonly location: string;
  /** The bytes of a file, or undefined if it does not exist. */
  read(relative: string): Promise<Buffer | undefined>;
}

export function directorySource(directory: string): RepoSource {
  const root = resolve(directory);
  return {
    location: root,
    async read(relative) {
      try {
        return await readFile(join(root, relative));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
  };
}

export function httpSource(baseUrl: string): RepoSource {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    location: base,
    async read(relative) {
      const url = `${base}/${relative}`;
      let response: Response;
      try {
        response = await fetch(url, {
          redirect: 'error',
          headers: { 'accept-encoding': 'identity' },
        });
      } catch (error) {
        throw new UcvmError('HTTP_FAILED', `cannot fetch ${url}`, {
          details: String((error as Error).cause ?? error),
          cause: error,
        });
      }
      if (response.status === 404) return undefined;
      if (!response.ok) throw new UcvmError('HTTP_FAILED', `${url}: HTTP ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    },
  };
}

export function isUrl(text: string): boolean {
  return /^https?:\/\//.test(text);
}

/** A source for a user-given location: an http(s) URL or a directory. */
export function openSource(location: string): RepoSource {
  return isUrl(location) ? httpSource(location) : directorySource(location);
}

/** The repository name a location implies: its last path component (`…/cvmfs/<fqrn>`). */
export function fqrnOfLocation(location: string): string {
  const trimmed = location.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
