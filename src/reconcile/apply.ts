import type { ImagePlan } from '../image/plan.js';
import path from 'node:path';
import { isUcvmError, UcvmError } from '../errors.js';
import { loadPublicKey } from '../keys/index.js';
import { silentLogger, silentProgress, type Logger, type Progress } from '../log.js';
import type { Channel } from '../manifest/schema.js';
import type { PipelineConfig, RepositorySettings } from '../pipeline/schema.js';
import { repositoryStorage, storageSource } from '../pipeline/storage.js';
import type {
  ImportStats,
  Publisher,
  PublishResult,
  PublishStats,
} from '../publisher/publisher.js';
import { CvmfsServerPublisher } from '../publisher/cvmfs-server/index.js';
import { httpSource } from '../reader/source.js';
import { createEmbeddedPublisher, EmbeddedPublisher } from '../publisher/embedded/index.js';
import { passedChecks } from '../checks/record.js';
import { Repository } from '../reader/repository.js';
import { verifyRepository } from '../reader/verify.js';
import { loadChannelManifest } from '../manifest/channel-file.js';
import type { InstallMode } from '../template/install.js';
import {
  channelSettings,
  keysDirectory,
  loadPipeline,
  location,
  openChannelRepository,
  planPipeline,
  type PipelinePlan,
} from './load.js';
import type { Action, ChannelPlan, Refusal } from './plan.js';
import { encodeProvenance } from './provenance.js';
import { provenanceOf } from './provenance-of.js';

export interface ReconcileOptions {
  /** Root of the git repository holding manifests/ and pipeline/. */
  root: string;
  channels?: readonly Channel[];
  /** Plan and report what would be written; write nothing. */
  dryRun?: boolean;
  /** How long to queue behind another writer of a repository (default 0: fail at once). */
  waitSeconds?: number;
  logger?: Logger;
  progress?: Progress;
  build?: {
    cacheDir?: string;
    aptRoot?: string;
    offline?: boolean;
    mode?: InstallMode;
    sourceDateEpoch?: number;
  };
  /** Spool directories of the publishers (default: under ~/.cache/ucvm/spool). */
  spoolDir?: string;
  /** Build the channels' boot images whose inputs changed (default true). */
  images?: boolean;
  /** Create repositories that do not exist yet (and their keys, if there are none). */
  init?: { whitelistDays: number };
}

export type OutcomeStatus =
  /** The action was carried out. */
  | 'done'
  /** The repository already matched its manifest. */
  | 'unchanged'
  /** Dry run: the action that would be carried out. */
  | 'planned'
  /** A refusal stopped this channel (and those after it). */
  | 'refused'
  /** A channel before it was refused or failed. */
  | 'not-reached';

export interface ChannelOutcome {
  channel: Channel;
  repository: string;
  tag: string;
  action: Action['kind'];
  status: OutcomeStatus;
  revision?: number;
  rootHash?: string;
  stats?: PublishStats | ImportStats;
  /** Checks run and recorded for the version in this channel. */
  checks?: Record<string, boolean>;
  refusals?: Refusal[];
}

export interface ImageOutcome {
  channel: Channel;
  name: string;
  status: 'unchanged' | 'planned' | 'built' | 'failed' | 'skipped';
  /** Why it was (to be) built, what it wrote, or why it failed. */
  detail: string;
}

export interface ReconcileReport {
  outcomes: ChannelOutcome[];
  drift: string[];
  warnings: string[];
  dryRun: boolean;
  /** The channels' boot images (none without pipeline/image.yaml, or with images: false). */
  images: ImageOutcome[];
}

/** Checks reconcile runs itself, when a gate asks for them. */
const BUILT_IN_CHECKS = new Set(['verify']);

interface Run {
  options: ReconcileOptions;
  pipeline: PipelineConfig;
  logger: Logger;
}

/**
 * Makes every selected channel's repository match its manifest: channel by channel in
 * promotion order, each planned afresh just before it is applied (another run may have moved
 * on meanwhile), one repository lock at a time. Every step is a publisher operation that
 * either commits a new signed revision or leaves the last one intact, so a run killed at any
 * point leaves every repository verifiable and the next run finishes the job.
 */
export async function reconcilePipeline(options: ReconcileOptions): Promise<ReconcileReport> {
  const pipeline = await loadPipeline(options.root);
  const selected = new Set(options.channels ?? pipeline.promotion);
  const channels = pipeline.promotion.filter((channel) => selected.has(channel));
  const run: Run = { options, pipeline, logger: options.logger ?? silentLogger };
  // Package and file diffs are for people: only a dry run prints them.
  const initial = await planPipeline({
    root: options.root,
    channels,
    details: options.dryRun === true,
  });
  const imagePlans = options.images === false ? [] : initial.images;
  if (options.dryRun === true)
    return {
      outcomes: initial.plans.map((plan) => outcomeOf(plan, plannedStatus(plan))),
      drift: initial.drift,
      warnings: initial.warnings,
      dryRun: true,
      images: imagePlans.map((image) => ({
        channel: image.channel,
        name: image.name,
        status: image.action === 'build' ? 'planned' : 'unchanged',
        detail: image.reason,
      })),
    };
  const outcomes: ChannelOutcome[] = [];
  let stopped = false;
  for (const channel of channels) {
    const first = initial.plans.find((candidate) => candidate.channel === channel);
    // A channel that matched its manifest still does: other runs only move repositories
    // towards the same manifests. Anything else is planned again, just before it is applied.
    const current =
      first !== undefined && first.action.kind === 'none' && first.refusals.length === 0
        ? first
        : undefined;
    const plan = stopped ? undefined : (current ?? (await freshPlan(run, channel)));
    if (plan === undefined) {
      if (first !== undefined) outcomes.push(outcomeOf(first, 'not-reached'));
      continue;
    }
    if (plan.refusals.length > 0) {
      outcomes.push(outcomeOf(plan, 'refused'));
      stopped = true;
      continue;
    }
    outcomes.push(await applyChannel(run, plan));
  }
  const images = await buildImages(run, imagePlans, stopped);
  return { outcomes, drift: initial.drift, warnings: initial.warnings, dryRun: false, images };
}

/**
 * The boot images whose inputs changed, after the repositories (an image boots what its
 * channel publishes). A failed image build is reported and the next image still tried: the
 * repositories are done, and the next run builds what is missing.
 */
async function buildImages(
  run: Run,
  plans: readonly ImagePlan[],
  stopped: boolean,
): Promise<ImageOutcome[]> {
  const outcomes: ImageOutcome[] = [];
  for (const image of plans) {
    const base = { channel: image.channel, name: image.name };
    if (image.action === 'none')
      outcomes.push({ ...base, status: 'unchanged', detail: image.reason });
    else if (stopped)
      outcomes.push({ ...base, status: 'skipped', detail: 'a channel was refused' });
    else {
      try {
        const { buildImage } = await import('../image/build/build.js');
        const built = await buildImage({
          root: run.options.root,
          channel: image.channel,
          logger: run.logger,
          ...(run.options.build?.cacheDir !== undefined && {
            cacheDir: run.options.build.cacheDir,
          }),
          ...(run.options.build?.offline === true && { offline: true }),
        });
        const files = [built.iso, built.qcow2]
          .filter((item) => item !== undefined)
          .map((item) => item.file);
        outcomes.push({ ...base, status: 'built', detail: `${image.reason}: ${files.join(', ')}` });
      } catch (error) {
        if (!isUcvmError(error)) throw error;
        outcomes.push({ ...base, status: 'failed', detail: `${error.code}: ${error.message}` });
      }
    }
  }
  return outcomes;
}

function plannedStatus(plan: ChannelPlan): OutcomeStatus {
  if (plan.refusals.length > 0) return 'refused';
  return plan.action.kind === 'none' ? 'unchanged' : 'planned';
}

function outcomeOf(plan: ChannelPlan, status: OutcomeStatus): ChannelOutcome {
  return {
    channel: plan.channel,
    repository: plan.repository,
    tag: plan.tag,
    action: plan.action.kind,
    status,
    ...(plan.refusals.length > 0 && { refusals: plan.refusals }),
  };
}

async function freshPlan(run: Run, channel: Channel): Promise<ChannelPlan | undefined> {
  const plan: PipelinePlan = await planPipeline({
    root: run.options.root,
    channels: [channel],
    details: false,
  });
  return plan.plans[0];
}

function settingsOf(run: Run, channel: Channel): RepositorySettings {
  const settings = channelSettings(run.pipeline, channel);
  if (settings === undefined)
    throw new UcvmError('PIPELINE_INVALID', `channel ${channel} has no repository`);
  return settings;
}

function writerOf(run: Run, settings: RepositorySettings): Publisher {
  if (settings.backend === 'cvmfs-server')
    return new CvmfsServerPublisher({
      fqrn: settings.name,
      ...(settings.url !== undefined && { url: settings.url }),
      publicKey: path.join(keysDirectory(settings, run.options.root), `${settings.name}.pub`),
      rollingTags: [settings.rollingTag],
      logger: run.logger,
    });
  const storage = repositoryStorage(settings, run.options.root);
  return createEmbeddedPublisher({
    storage: storage.location,
    ...(storage.s3 !== undefined && { s3: storage.s3 }),
    keysDir: keysDirectory(settings, run.options.root),
    fqrn: settings.name,
    rollingTags: [settings.rollingTag],
    lockWaitMs: Math.max(0, run.options.waitSeconds ?? 0) * 1000,
    logger: run.logger,
    ...(run.options.spoolDir !== undefined && {
      spoolDir: path.join(run.options.spoolDir, settings.name),
    }),
  });
}

async function applyChannel(run: Run, plan: ChannelPlan): Promise<ChannelOutcome> {
  const settings = settingsOf(run, plan.channel);
  const publisher = writerOf(run, settings);
  await ensureRepository(run, settings, publisher);
  const outcome = outcomeOf(plan, 'done');
  const { action } = plan;
  const logger = run.logger;
  switch (action.kind) {
    case 'none':
      outcome.status = 'unchanged';
      break;
    case 'publish': {
      logger.info(`${plan.channel}: building and publishing ${plan.tag}`);
      const published = await buildAndPublish(run, plan, publisher, settings);
      outcome.revision = published.revision;
      outcome.rootHash = published.rootHash;
      outcome.stats = published.stats;
      if (published.unchanged) {
        // The tag was there (another run published it meanwhile): the rolling tag follows.
        const moved = await publisher.tag({ name: settings.rollingTag, target: plan.tag });
        if (moved.unchanged) outcome.status = 'unchanged';
      }
      break;
    }
    case 'promote': {
      if (publisher.kind === 'cvmfs-server') {
        // cvmfs_server cannot take another repository's objects: the version is built again
        // from its pinned manifest (same identity), as μCernVM's release process did.
        logger.info(
          `${plan.channel}: promoting ${plan.tag} from ${action.from} by building it again`,
        );
        const published = await buildAndPublish(run, plan, publisher, settings, {
          repository: channelSettings(run.pipeline, action.from)!.name,
          tag: plan.tag,
        });
        outcome.revision = published.revision;
        outcome.rootHash = published.rootHash;
        outcome.stats = published.stats;
        break;
      }
      logger.info(`${plan.channel}: promoting ${plan.tag} from ${action.from}`);
      const result = await promote(run, plan, action, publisher, settings);
      outcome.revision = result.revision;
      outcome.rootHash = result.rootHash;
      outcome.stats = result.stats;
      if (result.unchanged) outcome.status = 'unchanged';
      break;
    }
    case 'rollback':
    case 'move': {
      logger.info(`${plan.channel}: pointing ${settings.rollingTag} at ${plan.tag}`);
      const result = await publisher.tag({ name: settings.rollingTag, target: plan.tag });
      outcome.revision = result.revision;
      outcome.rootHash = result.rootHash;
      if (result.unchanged) outcome.status = 'unchanged';
      break;
    }
  }
  const checks = await runChecks(run, plan, publisher, settings);
  if (Object.keys(checks).length > 0) outcome.checks = checks;
  return outcome;
}

/** Builds the channel's manifest and publishes it, with the rolling tag (and a promotion's origin). */
async function buildAndPublish(
  run: Run,
  plan: ChannelPlan,
  publisher: Publisher,
  settings: RepositorySettings,
  from?: { repository: string; tag: string },
): Promise<PublishResult> {
  // The build (apt, mmdebstrap) is loaded only when there is something to build.
  const { buildChannel } = await import('../template/channel.js');
  const { published } = await buildChannel({
    root: run.options.root,
    channel: plan.channel,
    publisher,
    poolDir: path.resolve(run.options.root, run.pipeline.pool),
    rollingTags: [settings.rollingTag],
    logger: run.logger,
    ...(from !== undefined && { from }),
    ...(run.options.progress !== undefined && { progress: run.options.progress }),
    ...run.options.build,
  });
  return published!;
}

/** A repository the pipeline declares but that does not exist yet is created only when asked. */
async function ensureRepository(
  run: Run,
  settings: RepositorySettings,
  publisher: Publisher,
): Promise<void> {
  // A site's stratum 0 is created by the site (cvmfs_server mkfs); its publish says if it is not.
  if (!(publisher instanceof EmbeddedPublisher)) return;
  const storage = repositoryStorage(settings, run.options.root);
  if ((await storageSource(storage).read('.cvmfspublished')) !== undefined) return;
  if (run.options.init === undefined)
    throw new UcvmError(
      'REPO_NOT_FOUND',
      `${settings.name} does not exist yet (${storage.location})`,
      {
        details:
          'Create it with `ucvm reconcile --init` (keys too, if its keys directory has none), or `ucvm repo init`.',
      },
    );
  run.logger.info(`creating ${settings.name}`, { storage: storage.location });
  await publisher
    .init({ whitelistDays: run.options.init.whitelistDays })
    .catch((error: unknown) => {
      // Another run created it meanwhile (it held the lock first): what this run wanted.
      if (!isUcvmError(error, 'REPO_EXISTS')) throw error;
    });
}

async function promote(
  run: Run,
  plan: ChannelPlan,
  action: Extract<Action, { kind: 'promote' }>,
  publisher: Publisher,
  settings: RepositorySettings,
) {
  const sourceSettings = settingsOf(run, action.from);
  const drift: string[] = [];
  const source = await openChannelRepository(sourceSettings, { root: run.options.root }, drift);
  try {
    if (source.repository === undefined || action.rootHash === undefined)
      throw new UcvmError('TAG_NOT_FOUND', `${sourceSettings.name} has no ${plan.tag} to promote`);
    const manifest = await loadChannelManifest(run.options.root, plan.channel);
    const provenance = await provenanceOf(manifest, {
      root: run.options.root,
      from: { repository: sourceSettings.name, tag: plan.tag },
    });
    return await publisher.importSnapshot(
      {
        source: source.repository,
        rootHash: action.rootHash,
        tag: plan.tag,
        description: encodeProvenance(provenance),
        rollingTags: [settings.rollingTag],
      },
      run.options.progress ?? silentProgress,
    );
  } finally {
    source.repository?.close();
  }
}

/**
 * Runs the built-in checks that a gate of the next channel asks for, on the version this
 * channel now holds, unless a result for that very snapshot is recorded already; records each
 * result in the repository (signed), where the next channel's gate reads it.
 */
async function runChecks(
  run: Run,
  plan: ChannelPlan,
  publisher: Publisher,
  settings: RepositorySettings,
): Promise<Record<string, boolean>> {
  const index = run.pipeline.promotion.indexOf(plan.channel);
  const next = run.pipeline.promotion[index + 1];
  const wanted = (next === undefined ? [] : (run.pipeline.gates?.[next]?.checks ?? [])).filter(
    (check) => BUILT_IN_CHECKS.has(check),
  );
  if (wanted.length === 0) return {};
  const drift: string[] = [];
  const opened = await openChannelRepository(settings, { root: run.options.root }, drift);
  opened.repository?.close();
  const tag = opened.state.tags.find((candidate) => candidate.name === plan.tag);
  if (tag === undefined) return {};
  const passed = passedChecks(opened.state.checks ?? {}, plan.tag, tag.rootHash);
  const results: Record<string, boolean> = {};
  for (const check of wanted) {
    if (passed.has(check)) continue;
    const problems = await verifySnapshot(run, settings);
    results[check] = problems.length === 0;
    await publisher.recordCheck({
      tag: plan.tag,
      name: check,
      passed: problems.length === 0,
      details:
        problems.length === 0
          ? 'signatures, catalogs and every object present'
          : problems.slice(0, 3).join('; '),
    });
    if (problems.length > 0)
      throw new UcvmError('VERIFY_FAILED', `${settings.name}: ${plan.tag} does not verify`, {
        details: problems.slice(0, 20).join('\n'),
      });
  }
  return results;
}

async function verifySnapshot(run: Run, settings: RepositorySettings): Promise<string[]> {
  const key = await loadPublicKey(
    path.join(keysDirectory(settings, run.options.root), `${settings.name}.pub`),
  );
  const repository = await Repository.open(
    settings.storage !== undefined
      ? storageSource(repositoryStorage(settings, run.options.root))
      : httpSource(location(settings, run.options.root, true)),
  );
  try {
    const report = await verifyRepository(repository, {
      masterKeys: [key],
      now: new Date(),
      fqrn: settings.name,
    });
    return report.problems;
  } finally {
    repository.close();
  }
}
