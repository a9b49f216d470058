import { mkdtemp } from 'node:fs/promises';
import { encodeProvenance } from '../reconcile/provenance.js';
import { desiredVersion } from '../reconcile/desired.js';
import { readProjectText } from '../project/read-text.js';
import os from 'node:os';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { silentLogger, type Logger, type Progress } from '../log.js';
import { invalidFileError } from '../manifest/load.js';
import { validateManifestFile, type Manifest } from '../manifest/index.js';
import { createAptSource } from '../packages/apt/index.js';
import type { PackageSource } from '../packages/package-source.js';
import { createFallbackSource, createPool, type PackagePool } from '../packages/pool/index.js';
import type { Publisher, PublishResult } from '../publisher/publisher.js';
import type { InstallMode } from './install.js';
import { removeBuildDir } from '../reproducible/safe-remove.js';
import { buildTemplate, type TemplateBuild } from './template.js';

export interface BuildChannelOptions {
  /** Root of the git repository: manifests/<channel>.yaml and the extra files' sources. */
  root: string;
  channel: string;
  /** Write the tree here (exclusive with `publisher`). */
  out?: string;
  /** Build into a temporary tree, publish it as `<system.name>-<system.version>`, remove it. */
  publisher?: Publisher;
  progress?: Progress;
  /** apt cache directory (default: `defaultAptCacheDir()`). */
  cacheDir?: string;
  /** Machine whose apt sources and keyrings are used (default `/`). */
  aptRoot?: string;
  /** Use only the apt cache (and the pool): no network. */
  offline?: boolean;
  /** The package pool: every package used is kept; what the archive dropped is taken from it. */
  poolDir?: string;
  sourceDateEpoch?: number;
  mode?: InstallMode;
  logger?: Logger;
}

export interface ChannelBuild {
  channel: string;
  manifest: Manifest;
  build: TemplateBuild;
  /** Set when the tree was published (`build.out` no longer exists then). */
  published?: PublishResult;
}

/** Reads and validates `manifests/<channel>.yaml`; MANIFEST_INVALID lists every issue. */
export async function loadChannelManifest(root: string, channel: string): Promise<Manifest> {
  const file = `manifests/${channel}.yaml`;
  const { manifest, issues } = await validateManifestFile(file, (name) =>
    readProjectText(path.join(root, name)),
  );
  if (manifest === undefined) throw invalidFileError('MANIFEST_INVALID', file, issues);
  return manifest;
}

function packageSource(
  manifest: Manifest,
  pool: PackagePool | undefined,
  options: BuildChannelOptions,
): PackageSource {
  const logger = options.logger ?? silentLogger;
  const apt = createAptSource({
    architecture: manifest.base.architecture,
    logger,
    ...(options.cacheDir !== undefined && { cacheDir: options.cacheDir }),
    ...(options.aptRoot !== undefined && { rootDir: options.aptRoot }),
    ...(options.offline === true && { offline: true }),
  });
  return pool === undefined ? apt : createFallbackSource(apt, pool.source(), logger);
}

/**
 * The tag's description: the version's identity and where it came from, readable by anyone
 * who can read the repository (`cvmfs_server tag -i` shows it) and signed with it.
 */
async function provenanceOf(manifest: Manifest, root: string): Promise<string> {
  const { identity } = await desiredVersion(manifest, root);
  const commit = process.env.GITHUB_SHA;
  const actor = process.env.GITHUB_ACTOR;
  const run =
    process.env.GITHUB_RUN_ID === undefined
      ? undefined
      : `${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${process.env.GITHUB_REPOSITORY ?? ''}/actions/runs/${process.env.GITHUB_RUN_ID}`;
  return encodeProvenance({
    ucvm: 1,
    version: manifest.system.version,
    ...(manifest.system.description !== undefined && { summary: manifest.system.description }),
    identity: identity.digest,
    fields: identity.fields,
    ...(commit !== undefined && /^[0-9a-f]{7,64}$/.test(commit) && { commit }),
    ...(actor !== undefined && { actor: actor.slice(0, 100) }),
    ...(run !== undefined && { run: run.slice(0, 300) }),
    at: new Date().toISOString(),
  });
}

/**
 * `ucvm build`: the channel's manifest → the OS tree, written to `out` or published as the
 * named snapshot `<system.name>-<system.version>`, its provenance as the tag's description.
 */
export async function buildChannel(options: BuildChannelOptions): Promise<ChannelBuild> {
  if ((options.out === undefined) === (options.publisher === undefined)) {
    throw new UcvmError('USAGE', 'give either an output directory or a repository to publish to', {
      details: 'ucvm build <channel> --out <dir>, or ucvm build <channel> --publish <storage>.',
    });
  }
  const root = path.resolve(options.root);
  const manifest = await loadChannelManifest(root, options.channel);
  const pool = options.poolDir === undefined ? undefined : createPool(options.poolDir);
  const common = {
    manifest,
    source: packageSource(manifest, pool, options),
    filesRoot: root,
    ...(pool !== undefined && { pool }),
    ...(options.logger !== undefined && { logger: options.logger }),
    ...(options.sourceDateEpoch !== undefined && { sourceDateEpoch: options.sourceDateEpoch }),
    ...(options.mode !== undefined && { mode: options.mode }),
  };
  const { publisher } = options;
  if (publisher === undefined) {
    const build = await buildTemplate({ ...common, out: options.out ?? '' });
    return { channel: options.channel, manifest, build };
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'ucvm-tree-'));
  try {
    const build = await buildTemplate({ ...common, out: path.join(work, 'tree'), durable: false });
    const published = await publisher.publish(
      { tree: build.out, tag: build.tag, description: await provenanceOf(manifest, root) },
      options.progress,
    );
    return { channel: options.channel, manifest, build, published };
  } finally {
    await removeBuildDir(work);
  }
}
