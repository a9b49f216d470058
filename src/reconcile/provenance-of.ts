import { committedVersionOf } from '../git/index.js';
import type { Manifest } from '../manifest/schema.js';
import { desiredVersion } from './desired.js';
import { encodeProvenance, type Provenance } from './provenance.js';

export interface ProvenanceContext {
  /** Root of the git repository holding manifests/. */
  root: string;
  /** For a promotion: the repository and tag the snapshot is copied from. */
  from?: { repository: string; tag: string };
  now?: Date;
}

/**
 * Where a version comes from: its identity, the manifest and commit it was built or promoted
 * from (only if that manifest is committed unchanged), and under GitHub Actions the actor and
 * the workflow run.
 */
export async function provenanceOf(
  manifest: Manifest,
  context: ProvenanceContext,
): Promise<Provenance> {
  const { identity } = await desiredVersion(manifest, context.root);
  const file = `manifests/${manifest.channel}.yaml`;
  const sha = process.env.GITHUB_SHA;
  const commit =
    sha !== undefined && /^[0-9a-f]{7,64}$/.test(sha)
      ? sha
      : await committedVersionOf(context.root, file);
  const actor = process.env.GITHUB_ACTOR;
  const run =
    process.env.GITHUB_RUN_ID === undefined
      ? undefined
      : `${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${process.env.GITHUB_REPOSITORY ?? ''}/actions/runs/${process.env.GITHUB_RUN_ID}`;
  const upgrades = manifest.hotfix?.upgrades ?? [];
  return {
    ucvm: 1,
    version: manifest.system.version,
    ...(manifest.system.description !== undefined && {
      summary: manifest.system.description.slice(0, 300),
    }),
    identity: identity.digest,
    fields: identity.fields,
    ...(commit !== undefined && { commit, manifest: file }),
    ...(actor !== undefined && { actor: actor.slice(0, 100) }),
    ...(run !== undefined && { run: run.slice(0, 300) }),
    at: (context.now ?? new Date()).toISOString(),
    ...(context.from !== undefined && { from: context.from }),
    ...(manifest.hotfix !== undefined && {
      hotfix: {
        reason: manifest.hotfix.reason.slice(0, 300),
        upgrades: Object.fromEntries(
          upgrades
            .filter((name) => manifest.packages[name] !== undefined)
            .map((name) => [name, manifest.packages[name]!]),
        ),
      },
    }),
  };
}

export async function encodedProvenanceOf(
  manifest: Manifest,
  context: ProvenanceContext,
): Promise<string> {
  return encodeProvenance(await provenanceOf(manifest, context));
}

/** The release file in the tree (`/etc/ucvm-release`): which version this is and where it came from. */
export function releaseFileText(provenance: Provenance, system: string): string {
  const lines = [
    `UCVM_SYSTEM=${system}`,
    `UCVM_VERSION=${provenance.version}`,
    `UCVM_IDENTITY=${provenance.identity}`,
    ...(provenance.commit === undefined ? [] : [`UCVM_COMMIT=${provenance.commit}`]),
  ];
  return `${lines.join('\n')}\n`;
}
