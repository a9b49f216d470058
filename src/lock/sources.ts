import path from 'node:path';
import { UcvmError } from '../errors.js';
import type { Base } from '../manifest/index.js';
import type { SourceEntry } from '../packages/apt/index.js';
import type { AptSource } from '../pipeline/index.js';

/**
 * The sources a manifest's packages come from: those for its suite (`bookworm`, and its
 * `bookworm-updates`, `bookworm-security`, `bookworm/updates`) and architecture. Other
 * entries of the machine (a vendor repository, another release) never enter the OS.
 */
export function sourcesForBase(sources: readonly SourceEntry[], base: Base): SourceEntry[] {
  const selected = sources.filter(
    (source) =>
      source.components.length > 0 &&
      (source.suite === base.suite ||
        source.suite.startsWith(`${base.suite}-`) ||
        source.suite.startsWith(`${base.suite}/`)) &&
      (source.architectures === undefined || source.architectures.includes(base.architecture)),
  );
  if (selected.length === 0) {
    const known = sources.map((source) => `${source.uri} ${source.suite}`).join('\n');
    throw new UcvmError(
      'PACKAGE_MISSING',
      `no apt source for ${base.suite} (${base.architecture})`,
      {
        details: `The manifest's base.suite is ${base.suite}; the sources are:\n${known || '(none)'}\nAdd a source for it (pipeline.yaml sources, or the machine's apt sources).`,
      },
    );
  }
  return selected;
}

/** The `sources` of pipeline.yaml as apt source entries; keyrings relative to the project root. */
export function sourcesFromPipeline(sources: readonly AptSource[], root: string): SourceEntry[] {
  return sources.map((source) => ({
    uri: source.uri.replace(/\/+$/, ''),
    suite: source.suite,
    components: source.components,
    signedBy: { keyrings: [path.resolve(root, source.keyring)], fingerprints: [] },
    types: ['deb'],
  }));
}
