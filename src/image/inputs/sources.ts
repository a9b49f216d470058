import { existsSync } from 'node:fs';
import path from 'node:path';
import { sourcesForBase, sourcesFromPipeline } from '../../lock/sources.js';
import type { Base } from '../../manifest/schema.js';
import { createAptSource, readAptSources } from '../../packages/apt/index.js';
import type { SourceEntry } from '../../packages/apt/index.js';
import type { PackageSource } from '../../packages/package-source.js';
import { loadPipeline } from '../../reconcile/load.js';
import { silentLogger } from '../../log.js';
import type { Logger } from '../../log.js';

export interface ImageSourceOptions {
  /** apt cache directory (default: the one `ucvm build` uses). */
  cacheDir?: string;
  /** Machine whose apt sources are used when pipeline.yaml names none (default `/`). */
  aptRoot?: string;
  offline?: boolean;
  logger?: Logger;
}

/** The image's packages come from where the OS's do: pipeline.yaml's sources, else the machine's. */
export async function imagePackageSource(
  root: string,
  base: Base,
  options: ImageSourceOptions = {},
): Promise<PackageSource> {
  const sources = sourcesForBase(await allSources(root, options.aptRoot), base);
  return createAptSource({
    architecture: base.architecture,
    sources,
    logger: options.logger ?? silentLogger,
    ...(options.cacheDir !== undefined && { cacheDir: options.cacheDir }),
    ...(options.aptRoot !== undefined && { rootDir: options.aptRoot }),
    ...(options.offline === true && { offline: true }),
  });
}

async function allSources(root: string, aptRoot: string | undefined): Promise<SourceEntry[]> {
  if (existsSync(path.join(root, 'pipeline', 'pipeline.yaml'))) {
    const { sources } = await loadPipeline(root);
    if (sources !== undefined) return sourcesFromPipeline(sources, root);
  }
  return readAptSources(aptRoot ?? '/');
}
