import path from 'node:path';
import semver from 'semver';
import { UcvmError } from '../errors.js';
import { commitOnBranch, committedVersionOf, fileAtCommit } from '../git/index.js';
import { diffManifests, validateManifestText, type ManifestDiff } from '../manifest/index.js';
import type { Channel, Manifest } from '../manifest/schema.js';
import { readProjectText } from '../project/read-text.js';
import { writeProjectText } from '../project/write-text.js';
import { desiredVersion } from '../reconcile/desired.js';
import { identityDifferences } from '../reconcile/identity.js';
import { channelSettings, loadPipeline, openChannelRepository } from '../reconcile/load.js';
import { snapshotTag, versionOfTag, type TagState } from '../reconcile/plan.js';
import { loadChannelManifest } from '../manifest/channel-file.js';
import { copySections } from './sections.js';

/** The sections that carry a version's identity, and `install`, which `ucvm lock` pins from. */
const VERSION_SECTIONS = ['system', 'base', 'install', 'packages', 'files'] as const;
/** Pipeline steering that a promotion never carries into the next channel. */
const STEERING = ['hotfix', 'rollback'] as const;

export interface PromoteOptions {
  root: string;
  from: Channel;
  to: Channel;
  /** Default: the version the source channel runs now (its rolling tag). */
  version?: string;
  /** Create this branch with one commit (default `ucvm/promote-<to>-<version>`); false: edit only. */
  branch?: string | false;
  /** Read the source repository through its `url` (no storage access needed). */
  remote?: boolean;
}

export interface PromoteResult {
  from: Channel;
  to: Channel;
  version: string;
  tag: string;
  file: string;
  /** The manifest changed (false: the target asks for this version already). */
  changed: boolean;
  branch?: string;
  commit?: string;
  title: string;
  /** Markdown for the pull request. */
  body: string;
  packages: ManifestDiff;
}

/**
 * `ucvm promote`: makes the target channel's manifest ask for a version the channel before it
 * holds, by copying the sections that carry the version's identity from the manifest that
 * version was published from (comments kept, every other line of the target untouched), and
 * commits that on a branch, so that a promotion is a reviewed change like any other. The
 * reconciler carries it out once merged.
 */
export async function promoteChannel(options: PromoteOptions): Promise<PromoteResult> {
  const root = path.resolve(options.root);
  const pipeline = await loadPipeline(root);
  const order = pipeline.promotion;
  const at = order.indexOf(options.from);
  if (at < 0 || !order.includes(options.to))
    throw new UcvmError(
      'USAGE',
      `${!order.includes(options.from) ? options.from : options.to} is not in the promotion order (${order.join(' → ')})`,
    );
  if (order[at + 1] !== options.to)
    throw new UcvmError(
      'HOTFIX_REQUIRED',
      `${options.to} does not follow ${options.from} (promotion order: ${order.join(' → ')})`,
      {
        details:
          order.indexOf(options.to) > at
            ? `Promote through ${order.slice(at + 1, order.indexOf(options.to)).join(', ')} first; only a hotfix (ucvm hotfix) enters ${options.to} directly.`
            : 'Promotions go forward; to go back, revert the manifest to a version the channel holds (a rollback).',
      },
    );
  const settings = channelSettings(pipeline, options.from)!;
  const drift: string[] = [];
  const source = await openChannelRepository(
    settings,
    { root, remote: options.remote === true },
    drift,
  );
  source.repository?.close();
  const sourceManifest = await loadChannelManifest(root, options.from);
  const system = sourceManifest.system.name;
  const version =
    options.version ?? runningVersion(source.state.tags, source.state.rollingTag, system);
  if (version === undefined)
    throw new UcvmError('VERSION_UNKNOWN', `${settings.name} runs no version of ${system} yet`, {
      details: 'Reconcile it first, or name a version with --version.',
    });
  const tag = snapshotTag(system, version);
  const published = source.state.tags.find((candidate) => candidate.name === tag);
  if (published === undefined)
    throw new UcvmError('VERSION_UNKNOWN', `${settings.name} (${options.from}) holds no ${tag}`, {
      details: `Published there: ${
        source.state.tags
          .map((candidate) => versionOfTag(system, candidate.name))
          .filter((name): name is string => name !== undefined)
          .sort(semver.rcompare)
          .join(', ') || 'none'
      }. Only a version the channel before holds can be promoted.`,
    });
  const sourceText = await versionManifestText(root, options.from, version, published);
  const sourceVersion = validateManifestText(sourceText.text, sourceText.file).manifest;
  if (sourceVersion === undefined)
    throw new UcvmError('MANIFEST_INVALID', `${sourceText.file} (${tag}) does not validate`);

  const file = `manifests/${options.to}.yaml`;
  const targetPath = path.join(root, file);
  const targetText = await readProjectText(targetPath, { code: 'MANIFEST_INVALID' });
  const targetManifest = await loadChannelManifest(root, options.to);
  const same = (key: string): boolean =>
    JSON.stringify((targetManifest as unknown as Record<string, unknown>)[key]) ===
    JSON.stringify((sourceVersion as unknown as Record<string, unknown>)[key]);
  const newText = copySections(targetText, sourceText.text, VERSION_SECTIONS, same, STEERING);
  const promoted = validateManifestText(newText, file).manifest;
  if (promoted === undefined)
    throw new UcvmError('MANIFEST_INVALID', `the promoted ${file} does not validate`);
  const wanted = await checkSameIdentity(root, promoted, sourceVersion, tag);
  const recorded = published.identity?.digest;
  if (recorded !== undefined && recorded !== wanted)
    throw new UcvmError(
      'VERSION_CONFLICT',
      `${settings.name} holds ${tag} with another content than ${sourceText.file} describes`,
      {
        details:
          'The manifest changed after the version was published. Promote what was published (give --version of a published, unchanged version), or publish the change as a new version first.',
      },
    );
  if (options.branch !== false) await checkUncommitted(root, file);

  const packages = diffManifests(targetManifest, promoted);
  const title = `Promote ${system} ${version} from ${options.from} to ${options.to}`;
  const body = promotionBody({
    ...options,
    version,
    tag,
    packages,
    repository: settings.name,
    published,
  });
  const result: PromoteResult = {
    from: options.from,
    to: options.to,
    version,
    tag,
    file,
    changed: newText !== targetText,
    title,
    body,
    packages,
  };
  if (!result.changed) return result;
  await writeProjectText(targetPath, newText);
  if (options.branch === false) return result;
  const branch = options.branch ?? `ucvm/promote-${options.to}-${version}`;
  result.branch = branch;
  result.commit = await commitOnBranch(root, {
    branch,
    message: `${title}\n\n${body}`,
    files: [file],
  });
  return result;
}

/** A promotion commit holds only its own edit: the target manifest must be as committed. */
export async function checkUncommitted(root: string, file: string): Promise<void> {
  if ((await committedVersionOf(root, file)) === undefined)
    throw new UcvmError(
      'USAGE',
      `${file} has uncommitted changes (or ${root} is not a git repository)`,
      {
        details: 'Commit or stash them first, or edit only with --no-commit.',
      },
    );
}

function runningVersion(
  tags: readonly TagState[],
  rollingTag: string,
  system: string,
): string | undefined {
  const rolling = tags.find((tag) => tag.name === rollingTag);
  return tags
    .filter((tag) => tag.rootHash === rolling?.rootHash)
    .map((tag) => versionOfTag(system, tag.name))
    .filter((version): version is string => version !== undefined)
    .sort(semver.rcompare)[0];
}

/**
 * The manifest a published version was made from: the source channel's own file if it asks
 * for that version now, else the file at the commit its provenance records.
 */
async function versionManifestText(
  root: string,
  channel: Channel,
  version: string,
  published: TagState,
): Promise<{ text: string; file: string }> {
  const file = `manifests/${channel}.yaml`;
  const current = await readProjectText(path.join(root, file), { code: 'MANIFEST_INVALID' });
  if (validateManifestText(current, file).manifest?.system.version === version)
    return { text: current, file };
  const provenance = published.provenance;
  if (provenance?.commit !== undefined && provenance.manifest !== undefined) {
    const text = await fileAtCommit(root, provenance.commit, provenance.manifest);
    if (text !== undefined) return { text, file: provenance.manifest };
  }
  throw new UcvmError('VERSION_UNKNOWN', `the manifest of ${published.name} is not in this clone`, {
    details:
      provenance?.commit === undefined
        ? `${published.name} records no git commit; promote it while ${file} still asks for it.`
        : `It was published from ${provenance.manifest ?? file} at commit ${provenance.commit}: fetch the full history.`,
  });
}

/** The promoted manifest's identity digest, once it is checked to be the source's. */
async function checkSameIdentity(
  root: string,
  promoted: Manifest,
  source: Manifest,
  tag: string,
): Promise<string> {
  const [a, b] = await Promise.all([desiredVersion(promoted, root), desiredVersion(source, root)]);
  const fields = identityDifferences(a.identity, b.identity);
  if (fields.length > 0)
    throw new UcvmError(
      'VERSION_CONFLICT',
      `the promoted manifest would not be ${tag} (${fields.join(', ')} differ)`,
      {
        details:
          'An extra file given by `source:` may differ between the channels; make them the same file.',
      },
    );
  return a.identity.digest;
}

function promotionBody(input: {
  from: Channel;
  to: Channel;
  version: string;
  tag: string;
  repository: string;
  packages: ManifestDiff;
  published: TagState;
}): string {
  const { packages } = input;
  const lines = [
    `Promotes \`${input.tag}\` from **${input.from}** (${input.repository}, root \`${input.published.rootHash}\`) to **${input.to}**.`,
    '',
    'On merge, `ucvm reconcile` copies the snapshot unchanged (only the objects the target lacks) and moves the rolling tag.',
    '',
    `Packages against what ${input.to} asks for now: ${packages.added.length} added, ${packages.removed.length} removed, ${packages.upgraded.length} upgraded, ${packages.downgraded.length} downgraded.`,
  ];
  const rows = [
    ...packages.added.map((pin) => `| ${pin.name} | | ${pin.version} |`),
    ...packages.removed.map((pin) => `| ${pin.name} | ${pin.version} | |`),
    ...packages.upgraded.map((change) => `| ${change.name} | ${change.from} | ${change.to} |`),
    ...packages.downgraded.map(
      (change) => `| ${change.name} | ${change.from} | ${change.to} (downgrade) |`,
    ),
  ];
  if (rows.length > 0) lines.push('', '| package | from | to |', '|---|---|---|', ...rows);
  return lines.join('\n');
}
