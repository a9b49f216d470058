import { createHash } from 'node:crypto';
import { writeProjectText } from '../project/write-text.js';
import { readProjectText } from '../project/read-text.js';
import os from 'node:os';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { silentLogger } from '../log.js';
import type { Logger } from '../log.js';
import {
  diffManifests,
  invalidFileError,
  isDebianPackageName,
  validateManifestDraftText,
  validateManifestText,
} from '../manifest/index.js';
import type { Manifest, ManifestDiff, ManifestDraft } from '../manifest/index.js';
import { createAptSource, readAptSources } from '../packages/apt/index.js';
import type { SourceEntry } from '../packages/apt/index.js';
import { checkClosure, compareDebianVersions } from '../packages/debian/index.js';
import { sourcesText } from './apt-config.js';
import { resolveWithApt } from './apt-resolver.js';
import { writeLockedSet } from './manifest-edit.js';
import { sourcesForBase } from './sources.js';

export interface LockOptions {
  /** The channel manifest, e.g. `manifests/testing.yaml`. */
  manifestPath: string;
  /** Roots to add to `install`. */
  add?: readonly string[];
  /** Roots to take out of `install`; dependencies nothing else needs drop out with them. */
  remove?: readonly string[];
  /** Take the newest versions instead of keeping the pinned ones. */
  upgrade?: boolean;
  /** Take the newest versions of these packages only (a hotfix); the other pins stay. */
  upgradeOnly?: readonly string[];
  /** Compute and return the result without writing the manifest. */
  dryRun?: boolean;
  /** apt's private state (default: a directory per architecture and sources under the cache). */
  stateDir?: string;
  /** The apt sources (default: the machine's, under `rootDir`); filtered by base.suite. */
  sources?: readonly SourceEntry[];
  /** Root of the machine whose apt sources are used (default `/`). */
  rootDir?: string;
  /** Cache of the independent index reader that checks apt's answer (createAptSource). */
  aptCacheDir?: string;
  logger?: Logger;
}

export interface LockResult {
  manifestPath: string;
  /** The roots, sorted. */
  install: string[];
  /** The closure: name → version, sorted by name. */
  packages: Record<string, string>;
  /** Roots added to and removed from `install`. */
  roots: { added: string[]; removed: string[] };
  /** Package changes against the manifest as it was. */
  diff: ManifestDiff;
  /** Pins apt had to release to satisfy the request (name → the version that was pinned). */
  released: Record<string, string>;
  /** The new text differs from the old one. */
  changed: boolean;
  /** The manifest file was rewritten (false with dryRun or when nothing changed). */
  written: boolean;
}

/**
 * Pins a manifest's packages with apt itself: resolves `install` (plus `add`, minus `remove`)
 * and every Essential package on an empty system, keeping the pinned versions unless
 * `upgrade`, checks the answer is a closed set against independently verified indices, and
 * writes `install` and `packages` back into the file. Any failure leaves the file unchanged.
 */
export async function lockManifest(options: LockOptions): Promise<LockResult> {
  const logger = options.logger ?? silentLogger;
  const file = options.manifestPath;
  const text = await readProjectText(file, { code: 'MANIFEST_INVALID' });
  const draft = loadDraft(text, file);
  const current = draft.install ?? [];
  const roots = nextRoots(draft, options.add ?? [], options.remove ?? []);
  const all = options.sources ?? (await readAptSources(options.rootDir ?? '/'));
  const sources = sourcesForBase(all, draft.base);
  const { architecture } = draft.base;
  const pinned = draft.packages ?? {};
  const resolution = await resolveWithApt({
    stateDir: options.stateDir ?? defaultStateDir(architecture, sources),
    architecture,
    sources,
    roots,
    pins: new Map(
      options.upgrade === true
        ? []
        : Object.entries(pinned).filter(([name]) => !(options.upgradeOnly ?? []).includes(name)),
    ),
    logger,
  });
  const closure = new Map(resolution.packages.map((entry) => [entry.name, entry.version]));
  checkRoots(roots, closure, draft.system.name);
  await checkClosed(closure, sources, architecture, options, logger);

  const newText = writeLockedSet(text, { install: roots, packages: closure });
  const locked = validateManifestText(newText, file);
  if (locked.manifest === undefined)
    throw invalidFileError('MANIFEST_INVALID', file, locked.issues);
  const before: Manifest = { ...draft, packages: pinned };
  const changed = newText !== text;
  const written = changed && options.dryRun !== true;
  if (written) await writeProjectText(file, newText);
  report(closure, options, pinned, resolution.released, logger);
  return {
    manifestPath: file,
    install: [...roots],
    packages: Object.fromEntries([...closure].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    roots: {
      added: roots.filter((name) => !current.includes(name)),
      removed: current.filter((name) => !roots.includes(name)).sort(),
    },
    diff: diffManifests(before, locked.manifest),
    released: Object.fromEntries(resolution.released),
    changed,
    written,
  };
}

/** Logs what the user may not expect: a removed root that stays, a pin the archive dropped. */
function report(
  closure: ReadonlyMap<string, string>,
  options: LockOptions,
  pinned: Readonly<Record<string, string>>,
  released: ReadonlyMap<string, string>,
  logger: Logger,
): void {
  for (const name of options.remove ?? []) {
    if (closure.has(name)) logger.info('still installed as a dependency', { package: name });
  }
  if (options.upgrade === true) return;
  for (const [name, version] of closure) {
    const pin = pinned[name];
    if (pin === undefined || released.has(name) || compareDebianVersions(pin, version) === 0)
      continue;
    logger.warn('pinned version is no longer in the sources', {
      package: name,
      pinned: pin,
      now: version,
    });
  }
}

function loadDraft(text: string, file: string): ManifestDraft {
  const { value, issues } = validateManifestDraftText(text, file);
  if (value === undefined) throw invalidFileError('MANIFEST_INVALID', file, issues);
  if (value.install === undefined && Object.keys(value.packages ?? {}).length > 0) {
    throw new UcvmError('MANIFEST_INVALID', `${file} has packages but no install list`, {
      details:
        'ucvm lock resolves packages from the roots in install. Add `install:` with the packages you asked for (not their dependencies), then run ucvm lock again.',
      where: { file, path: 'install' },
    });
  }
  return value;
}

/** `install` plus `add` minus `remove`, sorted and checked. */
export function nextRoots(
  draft: ManifestDraft,
  add: readonly string[],
  remove: readonly string[],
): string[] {
  for (const name of [...add, ...remove]) {
    if (!isDebianPackageName(name))
      throw new UcvmError('USAGE', `invalid package name ${JSON.stringify(name)}`);
  }
  const both = add.filter((name) => remove.includes(name));
  if (both.length > 0) throw new UcvmError('USAGE', `both added and removed: ${both.join(', ')}`);
  const current = draft.install ?? [];
  const notRoots = remove.filter((name) => !current.includes(name));
  if (notRoots.length > 0) {
    throw new UcvmError('USAGE', `cannot remove ${notRoots.join(', ')}: not in install`, {
      details: `Only roots can be removed; install lists: ${current.join(', ') || '(nothing)'}. A dependency leaves when nothing installed needs it.`,
    });
  }
  const roots = [...new Set([...current, ...add])].filter((name) => !remove.includes(name));
  if (roots.includes(draft.system.name)) {
    throw new UcvmError('USAGE', `${draft.system.name} is the meta package (system.name)`, {
      details: 'It is built by ucvm from the pinned packages; it cannot be installed from apt.',
    });
  }
  if (roots.length === 0) {
    throw new UcvmError('USAGE', 'nothing to install', {
      details: 'Name the packages you want with --add (or in the manifest under install).',
    });
  }
  return roots.sort();
}

function checkRoots(
  roots: readonly string[],
  closure: ReadonlyMap<string, string>,
  systemName: string,
): void {
  const absent = roots.filter((name) => !closure.has(name));
  if (absent.length > 0) {
    throw new UcvmError('PACKAGE_MISSING', `apt installs no package named ${absent.join(', ')}`, {
      details:
        'apt picked another package for it (a virtual package, a glob or a regular expression). Install the real package by name.',
    });
  }
  if (closure.has(systemName)) {
    throw new UcvmError('PACKAGE_CLOSURE', `apt installs ${systemName}, the meta package's name`, {
      details: 'Choose another system.name, or drop the package that pulls it in.',
    });
  }
}

/** apt's answer, checked by ucvm's own reader of the same sources: a closed set or an error. */
async function checkClosed(
  closure: ReadonlyMap<string, string>,
  sources: readonly SourceEntry[],
  architecture: string,
  options: LockOptions,
  logger: Logger,
): Promise<void> {
  const source = createAptSource({
    architecture,
    sources,
    logger,
    ...(options.aptCacheDir !== undefined && { cacheDir: options.aptCacheDir }),
    ...(options.rootDir !== undefined && { rootDir: options.rootDir }),
  });
  const index = await source.index();
  const report = checkClosure({ pinned: closure, records: index.all(), architecture });
  if (report.ok) return;
  const count = report.problems.length;
  throw new UcvmError(
    'PACKAGE_CLOSURE',
    `apt's answer is not a closed set (${count} problem${count === 1 ? '' : 's'})`,
    {
      details: `${report.problems.map((problem) => problem.message).join('\n')}\nThe manifest was not changed.`,
    },
  );
}

/** `$XDG_CACHE_HOME/ucvm/lock/<arch>-<hash of the sources>`: lists are reused between runs. */
export function defaultStateDir(architecture: string, sources: readonly SourceEntry[]): string {
  const base = process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache');
  const key = createHash('sha256').update(sourcesText(sources)).digest('hex').slice(0, 16);
  return path.join(base, 'ucvm', 'lock', `${architecture}-${key}`);
}
