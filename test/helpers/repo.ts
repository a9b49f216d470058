import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  createEmbeddedPublisher,
  type EmbeddedOptions,
} from '../../src/publisher/embedded/index.js';
import type { EmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { stockZlibProblems } from './independent.js';
import { tmpdir } from './tmp.js';
import { expect, onTestFinished } from 'vitest';

export interface TestRepo {
  base: string;
  storage: string;
  keys: string;
  spool: string;
  publisher: EmbeddedPublisher;
  /** Creates a new publisher for the same repository (e.g. with other options). */
  reopen(options?: Partial<EmbeddedOptions>): EmbeddedPublisher;
}

/**
 * An initialized, empty repository `test.example.org` in a temp dir (removed after the test),
 * or under `base` when called outside a test (e.g. in beforeAll).
 */
export async function makeRepo(
  options: Partial<EmbeddedOptions> & { init?: boolean; base?: string } = {},
): Promise<TestRepo> {
  const base = options.base ?? (await tmpdir());
  const storage = path.join(base, 'srv', options.fqrn ?? 'test.example.org');
  const keys = path.join(base, 'keys');
  const spool = path.join(base, 'spool');
  await mkdir(path.dirname(storage), { recursive: true });
  const { init, ...rest } = options;
  delete rest.base;
  const publisherOptions: Partial<EmbeddedOptions> = rest;
  const reopen = (more: Partial<EmbeddedOptions> = {}): EmbeddedPublisher =>
    createEmbeddedPublisher({
      storage,
      keysDir: keys,
      spoolDir: spool,
      ...publisherOptions,
      ...more,
    });
  const publisher = reopen();
  if (init !== false) await publisher.init({ whitelistDays: 30 });
  // Every repository a test creates must replicate: its certificate object is stock zlib's bytes.
  try {
    onTestFinished(() => {
      expect(stockZlibProblems(storage)).toEqual([]);
    });
  } catch {
    // Created outside a test (beforeAll): the tests that use it check their own.
  }
  return { base, storage, keys, spool, publisher, reopen };
}

/** The master public key of a test repository, to verify it with. */
export function masterKeysOf(repo: TestRepo): KeyObject[] {
  return [
    createPublicKey(readFileSync(path.join(repo.keys, `${path.basename(repo.storage)}.pub`))),
  ];
}
