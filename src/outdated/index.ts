import path from 'node:path';
import { UcvmError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { sourcesForBase, sourcesFromPipeline } from '../lock/sources.js';
import { Channel } from '../manifest/index.js';
import { createAptSource, readAptSources, type SourceEntry } from '../packages/apt/index.js';
import { compareDebianVersions } from '../packages/debian/version.js';
import type { PackageIndex, PackageRecord } from '../packages/package-source.js';
import { loadPipelineText } from '../pipeline/index.js';
import { readProjectText } from '../project/read-text.js';
import { loadChannelManifest } from '../template/channel.js';

/** A pinned package for which the channel's sources have a newer version. */
export interface OutdatedPackage {
  name: string;
  /** The version manifests/<channel>.yaml pins. */
  pinned: string;
  /** The newest version the sources carry. */
  available: string;
  /** A version newer than the pinned one comes from a security suite (`<suite>-security`). */
  security: boolean;
  /** Where `available` comes from: `<archive uri> <suite>/<component>`. */
  origin: string;
}

/** A pinned package whose name no source carries any longer (no version at all). */
export interface MissingPackage {
  name: string;
  pinned: string;
}

export interface OutdatedReport {
  channel: string;
  /** Sorted by name. */
  packages: OutdatedPackage[];
  /** Pinned packages the sources no longer carry at all (neither the pinned nor another version). */
  missing: MissingPackage[];
  /** How many packages the manifest pins. */
  pinned: number;
}

export interface OutdatedOptions {
  /** Root of the git repository holding manifests/ and pipeline/. */
  root: string;
  channel: string;
  /** apt cache directory (default: `defaultAptCacheDir()`). */
  cacheDir?: string;
  /** Machine whose apt sources and keyrings are used (default `/`). */
  aptRoot?: string;
  /** Use only the apt cache: no network. */
  offline?: boolean;
  /** The sources (default: pipeline.yaml's `sources`, else the machine's), filtered by base.suite. */
  sources?: readonly SourceEntry[];
  logger?: Logger;
}

/**
 * True for records from a security suite: Debian's `<codename>-security` (since bullseye) and
 * the older `<codename>/updates` of security.debian.org. The origin is `<uri> <suite>/<component>`.
 */
export function isSecurityOrigin(origin: string): boolean {
  const where = origin.slice(origin.indexOf(' ') + 1);
  const slash = where.lastIndexOf('/');
  const suite = slash < 0 ? where : where.slice(0, slash);
  return suite.endsWith('-security') || suite.endsWith('/updates');
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The pure comparison: `indices` is one index per source, in the sources' priority order (the
 * first source carrying a version is where apt and the build take it from). A version newer than
 * the pin found in a security suite marks the package, even when a newer one in another suite
 * (a point release that folded the fix in) is what `available` names.
 */
export function findOutdated(
  pins: Readonly<Record<string, string>>,
  indices: readonly PackageIndex[],
): { packages: OutdatedPackage[]; missing: MissingPackage[] } {
  const packages: OutdatedPackage[] = [];
  const missing: MissingPackage[] = [];
  for (const [name, pinned] of Object.entries(pins)) {
    const newer: PackageRecord[] = [];
    let carried = false;
    for (const index of indices) {
      const versions = index.versions(name);
      if (versions.length > 0) carried = true;
      for (const record of versions)
        if (compareDebianVersions(record.version, pinned) > 0) newer.push(record);
    }
    if (!carried) {
      missing.push({ name, pinned });
      continue;
    }
    // Stable: of equal versions the record of the first source stays first.
    const [best] = newer.sort((a, b) => compareDebianVersions(b.version, a.version));
    if (best === undefined) continue;
    packages.push({
      name,
      pinned,
      available: best.version,
      security: newer.some((record) => isSecurityOrigin(record.origin)),
      origin: best.origin,
    });
  }
  return { packages: packages.sort(byName), missing: missing.sort(byName) };
}

/** The channel name checked against the known channels (USAGE naming them otherwise). */
export function checkChannel(channel: string): Channel {
  const parsed = Channel.safeParse(channel);
  if (!parsed.success)
    throw new UcvmError('USAGE', `unknown channel ${JSON.stringify(channel)}`, {
      details: `Channels: ${Channel.options.join(', ')}.`,
    });
  return parsed.data;
}

/** pipeline.yaml's `sources`, if the project has a pipeline that names some (as `ucvm lock` reads them). */
async function pipelineSources(root: string): Promise<SourceEntry[] | undefined> {
  const file = path.join(root, 'pipeline', 'pipeline.yaml');
  let text: string;
  try {
    text = await readProjectText(file, { code: 'PIPELINE_INVALID' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const sources = loadPipelineText(text, 'pipeline/pipeline.yaml').sources;
  return sources === undefined ? undefined : sourcesFromPipeline(sources, root);
}

/**
 * `ucvm outdated`: the pinned packages of manifests/<channel>.yaml for which the channel's
 * package sources (those `ucvm lock` resolves from: pipeline.yaml's `sources`, else the
 * machine's apt sources, for base.suite and base.architecture, each verified against its signed
 * Release file) carry a newer version, with security updates marked.
 */
export async function outdatedPackages(options: OutdatedOptions): Promise<OutdatedReport> {
  const channel = checkChannel(options.channel);
  const root = path.resolve(options.root);
  const manifest = await loadChannelManifest(root, channel);
  const logger = options.logger ?? silentLogger;
  const all =
    options.sources ??
    (await pipelineSources(root)) ??
    (await readAptSources(options.aptRoot ?? '/'));
  const sources = sourcesForBase(all, manifest.base);
  // One index per source: the merged index keeps one record per version, and a version that
  // both the security suite and a point release carry must still count as a security update.
  const indices = await Promise.all(
    sources.map((source) =>
      createAptSource({
        architecture: manifest.base.architecture,
        sources: [source],
        logger,
        ...(options.cacheDir !== undefined && { cacheDir: options.cacheDir }),
        ...(options.aptRoot !== undefined && { rootDir: options.aptRoot }),
        ...(options.offline === true && { offline: true }),
      }).index(),
    ),
  );
  const { packages, missing } = findOutdated(manifest.packages, indices);
  return { channel, packages, missing, pinned: Object.keys(manifest.packages).length };
}

/** True when one of the outdated packages has a security update. */
export function hasSecurityUpdates(report: Pick<OutdatedReport, 'packages'>): boolean {
  return report.packages.some((entry) => entry.security);
}
