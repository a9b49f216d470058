import path from 'node:path';
import semver from 'semver';
import { stringify } from 'yaml';
import { UcvmError } from '../errors.js';
import { commitOnBranch } from '../git/index.js';
import { lockChannel } from '../lock/index.js';
import type { LockChannelOptions } from '../lock/index.js';
import { diffManifests, validateManifestText, type ManifestDiff } from '../manifest/index.js';
import type { Channel } from '../manifest/schema.js';
import { readProjectText } from '../project/read-text.js';
import { writeProjectText } from '../project/write-text.js';
import { loadPipeline } from '../reconcile/load.js';
import { loadChannelManifest } from '../manifest/channel-file.js';
import { checkUncommitted } from './promote.js';
import { setScalar, setSection } from './sections.js';

export interface HotfixOptions extends Pick<
  LockChannelOptions,
  'stateDir' | 'rootDir' | 'aptCacheDir' | 'logger' | 'sources'
> {
  root: string;
  channel: Channel;
  /** The packages to upgrade to the newest version the sources have. */
  upgrade: readonly string[];
  reason: string;
  advisories?: readonly string[];
  /** Create this branch with one commit (default `ucvm/hotfix-<channel>-<version>`); false: edit only. */
  branch?: string | false;
}

export interface HotfixResult {
  channel: Channel;
  version: string;
  previousVersion: string;
  file: string;
  packages: ManifestDiff;
  branch?: string;
  commit?: string;
  title: string;
  body: string;
}

/**
 * `ucvm hotfix`: the edit that lets a version enter the last channel directly: a patch-level
 * bump, the named packages re-locked to their newest versions (their dependencies follow only
 * where apt must move them), and the hotfix marker, committed on a branch for review.
 */
export async function hotfixChannel(options: HotfixOptions): Promise<HotfixResult> {
  const root = path.resolve(options.root);
  const pipeline = await loadPipeline(root);
  const last = pipeline.promotion[pipeline.promotion.length - 1];
  if (options.channel !== last)
    throw new UcvmError(
      'HOTFIX_INVALID',
      `only ${last ?? 'the last channel'} takes hotfixes, not ${options.channel}`,
      {
        details: `The channels before it get the fix by a new version promoted as usual (promotion order: ${pipeline.promotion.join(' → ')}).`,
      },
    );
  if (options.upgrade.length === 0)
    throw new UcvmError('USAGE', 'name the packages to upgrade with --upgrade');
  if (options.reason.trim() === '')
    throw new UcvmError('USAGE', '--reason must say why this skips the promotion');
  const file = `manifests/${options.channel}.yaml`;
  const manifestPath = path.join(root, file);
  const before = await loadChannelManifest(root, options.channel);
  const unknown = options.upgrade.filter((name) => before.packages[name] === undefined);
  if (unknown.length > 0)
    throw new UcvmError('USAGE', `${file} pins no ${unknown.join(', ')}`, {
      details: 'A hotfix upgrades packages the version has; adding packages is a normal release.',
    });
  if (options.branch !== false) await checkUncommitted(root, file);
  const original = await readProjectText(manifestPath, { code: 'MANIFEST_INVALID' });
  const locked = await lockChannel({
    root,
    channel: options.channel,
    upgradeOnly: options.upgrade,
    ...(options.stateDir !== undefined && { stateDir: options.stateDir }),
    ...(options.rootDir !== undefined && { rootDir: options.rootDir }),
    ...(options.aptCacheDir !== undefined && { aptCacheDir: options.aptCacheDir }),
    ...(options.sources !== undefined && { sources: options.sources }),
    ...(options.logger !== undefined && { logger: options.logger }),
  });
  const still = options.upgrade.filter((name) => locked.packages[name] === before.packages[name]);
  if (still.length === options.upgrade.length) {
    await writeProjectText(manifestPath, original);
    throw new UcvmError(
      'HOTFIX_INVALID',
      `the sources have nothing newer than the pinned ${options.upgrade.map((name) => `${name} ${before.packages[name]}`).join(', ')}`,
      { details: 'Nothing was changed. `ucvm outdated` lists what the sources have.' },
    );
  }
  const version = semver.inc(before.system.version, 'patch')!;
  const marker = {
    hotfix: {
      reason: options.reason.trim(),
      ...(options.advisories !== undefined &&
        options.advisories.length > 0 && { advisories: [...options.advisories] }),
      upgrades: [...options.upgrade].sort(),
    },
  };
  let text = await readProjectText(manifestPath, { code: 'MANIFEST_INVALID' });
  text = setScalar(text, ['system', 'version'], version);
  text = setSection(text, 'hotfix', stringify(marker));
  const after = validateManifestText(text, file).manifest;
  if (after === undefined) {
    await writeProjectText(manifestPath, original);
    throw new UcvmError('MANIFEST_INVALID', `the hotfixed ${file} does not validate`);
  }
  await writeProjectText(manifestPath, text);
  const packages = diffManifests(before, after);
  const system = after.system.name;
  const title = `Hotfix ${system} ${version} for ${options.channel}: ${options.upgrade.join(', ')}`;
  const body = [
    `Security hotfix of ${options.channel}: ${system} ${before.system.version} → ${version}.`,
    '',
    `Reason: ${options.reason.trim()}`,
    ...(options.advisories?.length ? ['', `Advisories: ${options.advisories.join(', ')}`] : []),
    '',
    '| package | from | to |',
    '|---|---|---|',
    ...packages.upgraded.map((change) => `| ${change.name} | ${change.from} | ${change.to} |`),
    ...packages.added.map((pin) => `| ${pin.name} | | ${pin.version} |`),
    ...packages.removed.map((pin) => `| ${pin.name} | ${pin.version} | |`),
    '',
    'After it is published, `ucvm plan` reminds the channels before it to carry these versions forward.',
  ].join('\n');
  const result: HotfixResult = {
    channel: options.channel,
    version,
    previousVersion: before.system.version,
    file,
    packages,
    title,
    body,
  };
  if (options.branch === false) return result;
  const branch = options.branch ?? `ucvm/hotfix-${options.channel}-${version}`;
  result.branch = branch;
  result.commit = await commitOnBranch(root, {
    branch,
    message: `${title}\n\n${body}`,
    files: [file],
  });
  return result;
}
