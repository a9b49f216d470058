import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rename, rmdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Manifest } from '../manifest/index.js';
import { sha256File } from '../packages/apt/fetch.js';
import type { PackageSource } from '../packages/package-source.js';
import type { PackagePool } from '../packages/pool/index.js';
import { addExtraFiles, loadExtraFiles, type ExtraFile } from './extra-files.js';
import { installPackages, syncTree, type InstallMode } from './install.js';
import { verifyInstalledSet } from './installed-set.js';
import { writeLocalRepo, type LocalPackage } from './local-repo.js';
import { buildMetaPackage, type MetaPackage } from './meta-package.js';
import { clampMtimes } from '../reproducible/mtimes.js';
import { cleanTree } from './reproducible.js';
import {
  checkPoolAgreement,
  fetchVerified,
  resolvePinned,
  type ResolvedPackage,
} from './resolve.js';
import { removeBuildDir } from '../reproducible/safe-remove.js';
import { sourceDateEpochOfPackages } from '../reproducible/source-date-epoch.js';

export interface BuildTemplateOptions {
  manifest: Manifest;
  /** Where the pinned packages come from (verified records and files). */
  source: PackageSource;
  /** Keeps every package file used; its copies are not consulted here (wrap the source for that). */
  pool?: PackagePool;
  /** The tree to create; must not exist or be an empty directory. */
  out: string;
  logger?: Logger;
  /** Default: the newest build time of the pinned packages (see source-date-epoch.ts). */
  sourceDateEpoch?: number;
  /** Directory that `files[].source` is relative to (the root of the git repository). */
  filesRoot?: string;
  /** Default: `root` when running as root, else `unshare`. */
  mode?: InstallMode;
  /** Where the private repository is written (default: the system temp directory). */
  workDir?: string;
  /** Flush the tree to disk before it appears at `out` (default true; off for a tree only published). */
  durable?: boolean;
}

export interface TemplateBuild {
  out: string;
  /** `<system.name>-<system.version>`, the tag the tree is published under. */
  tag: string;
  meta: { name: string; version: string; sha256: string };
  packages: {
    name: string;
    version: string;
    architecture: string;
    sha256: string;
    origin: string;
  }[];
  sourceDateEpoch: number;
  /** Package files the pool did not have before this build. */
  pooled: number;
  seconds: number;
}

function defaultMode(): InstallMode {
  return process.getuid?.() === 0 ? 'root' : 'unshare';
}

/** `out` may not exist or be an empty directory: a build never mixes with an older tree. */
async function checkOut(out: string): Promise<boolean> {
  const info = await stat(out).catch(() => undefined);
  if (info === undefined) return false;
  if (!info.isDirectory() || (await readdir(out)).length > 0) {
    throw new UcvmError('USAGE', `${out} already exists and is not an empty directory`, {
      details: 'A build writes a fresh tree; remove it or choose another --out.',
    });
  }
  return true;
}

async function metaLocalPackage(meta: MetaPackage): Promise<LocalPackage> {
  return {
    name: meta.name,
    version: meta.version,
    architecture: meta.architecture,
    fields: meta.control.fields,
    debPath: meta.path,
    size: (await stat(meta.path)).size,
    sha256: await sha256File(meta.path),
  };
}

function localPackage({ record, debPath }: ResolvedPackage): LocalPackage {
  const { name, version, architecture, fields, size, sha256 } = record;
  return { name, version, architecture, fields, debPath, size, sha256 };
}

async function poolNewCount(
  pool: PackagePool,
  packages: readonly ResolvedPackage[],
): Promise<number> {
  let count = 0;
  for (const { record } of packages)
    if (!(await pool.has(record.name, record.version, record.architecture))) count += 1;
  return count;
}

interface TreeRequest {
  manifest: Manifest;
  packages: readonly ResolvedPackage[];
  extraFiles: readonly ExtraFile[];
  sourceDateEpoch: number;
  mode: InstallMode;
  logger: Logger;
}

/** Meta package, private repository, mmdebstrap, installed-set check, cleaning, extra files, clamp. */
async function installTree(
  work: string,
  staging: string,
  request: TreeRequest,
): Promise<LocalPackage> {
  const { manifest, packages, sourceDateEpoch, mode } = request;
  const repoDir = path.join(work, 'repo');
  const meta = await buildMetaPackage({
    manifest,
    outDir: path.join(repoDir, 'pool'),
    sourceDateEpoch,
  });
  const metaPackage = await metaLocalPackage(meta);
  const repo = await writeLocalRepo(repoDir, [...packages.map(localPackage), metaPackage], {
    suite: manifest.base.suite,
    architecture: manifest.base.architecture,
    copy: mode === 'unshare',
  });
  request.logger.info('installing packages', { mode, sourceDateEpoch });
  const installStarted = Date.now();
  const include = `${meta.name}=${meta.version}`;
  const architecture = manifest.base.architecture;
  await installPackages(
    { target: staging, repo, architecture, include, mode, sourceDateEpoch },
    request.logger,
  );
  const expected = new Map(packages.map(({ record }) => [record.name, record.version]));
  expected.set(meta.name, meta.version);
  await verifyInstalledSet(staging, expected);
  await cleanTree(staging);
  await addExtraFiles(staging, request.extraFiles, sourceDateEpoch);
  await clampMtimes(staging, sourceDateEpoch, installStarted);
  return metaPackage;
}

/**
 * Builds the OS tree of a manifest: resolves and closure-checks the pinned set, fetches and
 * verifies every package, generates the meta package, installs exactly that set with mmdebstrap
 * from a private repository, verifies dpkg's view of the result, adds the extra files and makes
 * the tree reproducible. Everything that can fail on bad input fails before anything is
 * written; the tree appears at `out` only when complete (built next to it, then renamed).
 */
export async function buildTemplate(options: BuildTemplateOptions): Promise<TemplateBuild> {
  const started = Date.now();
  const { manifest, source, pool } = options;
  const logger = options.logger ?? silentLogger;
  const out = path.resolve(options.out);
  const outExists = await checkOut(out);
  const tag = `${manifest.system.name}-${manifest.system.version}`;

  const extraFiles = await loadExtraFiles(manifest.files, options.filesRoot);
  const records = await resolvePinned(manifest, source);
  if (pool !== undefined) await checkPoolAgreement(records, pool);
  logger.info('package set closed', { packages: records.length, system: tag });
  const packages = await fetchVerified(records, source, logger);
  const sourceDateEpoch =
    options.sourceDateEpoch ?? (await sourceDateEpochOfPackages(packages.map((p) => p.debPath)));
  const mode = options.mode ?? defaultMode();

  const work = await mkdtemp(path.join(options.workDir ?? os.tmpdir(), 'ucvm-build-'));
  await chmod(work, 0o755);
  await mkdir(path.dirname(out), { recursive: true });
  const staging = `${out}.partial-${randomBytes(4).toString('hex')}`;
  try {
    const request = { manifest, packages, extraFiles, sourceDateEpoch, mode, logger };
    const meta = await installTree(work, staging, request);
    const pooled = pool === undefined ? 0 : await poolNewCount(pool, packages);
    // Recorded before the tree appears: a build that reports success has kept its packages.
    if (pool !== undefined) await pool.addAll(packages, tag);
    if (options.durable !== false) await syncTree(staging);
    if (outExists) await rmdir(out);
    await rename(staging, out);
    logger.info('tree built', { out, packages: records.length + 1, pooled });
    return {
      out,
      tag,
      meta: { name: meta.name, version: meta.version, sha256: meta.sha256 },
      packages: records.map(({ name, version, architecture, sha256, origin }) => ({
        name,
        version,
        architecture,
        sha256,
        origin,
      })),
      sourceDateEpoch,
      pooled,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await removeBuildDir(work);
    await removeBuildDir(staging);
  }
}
