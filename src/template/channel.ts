import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { encodeProvenance } from '../reconcile/provenance.js';
import { provenanceOf, releaseFileText } from '../reconcile/provenance-of.js';
import os from 'node:os';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { silentLogger, type Logger, type Progress } from '../log.js';
import { loadChannelManifest } from '../manifest/channel-file.js';
import type { Manifest } from '../manifest/index.js';
import { createAptSource, type SourceEntry } from '../packages/apt/index.js';
import { sourcesForBase, sourcesFromPipeline } from '../lock/sources.js';
import { loadPipeline } from '../reconcile/load.js';
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
  /** Rolling tags (e.g. HEAD) to point at the published version in the same commit. */
  rollingTags?: readonly string[];
  /** A promotion carried out by building again: the repository and tag it came from. */
  from?: { repository: string; tag: string };
}

export interface ChannelBuild {
  channel: string;
  manifest: Manifest;
  build: TemplateBuild;
  /** Set when the tree was published (`build.out` no longer exists then). */
  published?: PublishResult;
}

export { loadChannelManifest };

/**
 * The `sources` of pipeline/pipeline.yaml, for the manifest's suite, as `ucvm lock` resolves
 * from them; undefined when the pipeline names none (the machine's apt sources are used).
 */
async function pipelineSources(
  root: string,
  manifest: Manifest,
): Promise<SourceEntry[] | undefined> {
  if (!existsSync(path.join(root, 'pipeline', 'pipeline.yaml'))) return undefined;
  const { sources } = await loadPipeline(root);
  return sources === undefined
    ? undefined
    : sourcesForBase(sourcesFromPipeline(sources, root), manifest.base);
}

function packageSource(
  manifest: Manifest,
  pool: PackagePool | undefined,
  options: BuildChannelOptions,
  sources: SourceEntry[] | undefined,
): PackageSource {
  const logger = options.logger ?? silentLogger;
  const apt = createAptSource({
    architecture: manifest.base.architecture,
    logger,
    ...(sources !== undefined && { sources }),
    ...(options.cacheDir !== undefined && { cacheDir: options.cacheDir }),
    ...(options.aptRoot !== undefined && { rootDir: options.aptRoot }),
    ...(options.offline === true && { offline: true }),
  });
  return pool === undefined ? apt : createFallbackSource(apt, pool.source(), logger);
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
  // The tree says which version it is; the release file is no part of the version's identity.
  const provenance = await provenanceOf(manifest, {
    root,
    ...(options.from !== undefined && { from: options.from }),
  });
  const common = {
    manifest: {
      ...manifest,
      files: [
        ...manifest.files,
        {
          path: '/etc/ucvm-release',
          content: releaseFileText(provenance, manifest.system.name),
          mode: '0644',
        },
      ],
    },
    source: packageSource(manifest, pool, options, await pipelineSources(root, manifest)),
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
      {
        tree: build.out,
        tag: build.tag,
        description: encodeProvenance(provenance),
        ...(options.rollingTags !== undefined && { rollingTags: options.rollingTags }),
      },
      options.progress,
    );
    return { channel: options.channel, manifest, build, published };
  } finally {
    await removeBuildDir(work);
  }
}
