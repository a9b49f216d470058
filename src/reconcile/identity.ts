import { createHash } from 'node:crypto';
import type { Manifest } from '../manifest/schema.js';
import { canonicalJson } from './canonical-json.js';

/** The parts of a manifest that reach the OS tree, each digested on its own. */
export const IDENTITY_FIELDS = ['system', 'base', 'packages', 'files'] as const;
export type IdentityField = (typeof IDENTITY_FIELDS)[number];

/**
 * What a version is, independent of the channel that carries it: a digest of everything the
 * template build reads from the manifest (the meta package's name, version, description and
 * changelog; the distribution; every pinned package; every extra file's path, mode and bytes).
 * Not part of it: `channel`, `install` (only `ucvm lock` reads it; `packages` is its result),
 * `hotfix` and `rollback` (they steer the pipeline, not the tree).
 */
export interface VersionIdentity {
  /** `sha256:<hex>` over the field digests. */
  digest: string;
  fields: Record<IdentityField, string>;
}

const FORMAT = 'ucvm-identity/1';

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The identity of a manifest's version. `fileBytes` gives the bytes of each extra file
 * (`content` as written, or the `source` file's bytes), by its tree path.
 */
export function versionIdentity(
  manifest: Manifest,
  fileBytes: (file: Manifest['files'][number]) => Buffer,
): VersionIdentity {
  const { name, version, description, changelog } = manifest.system;
  const fields: Record<IdentityField, string> = {
    system: sha256(canonicalJson({ name, version, description, changelog })),
    base: sha256(canonicalJson(manifest.base)),
    packages: sha256(canonicalJson(manifest.packages)),
    files: sha256(
      canonicalJson(
        [...manifest.files]
          .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
          .map((file) => ({ path: file.path, mode: file.mode, sha256: sha256(fileBytes(file)) })),
      ),
    ),
  };
  const digest = sha256(
    `${FORMAT}\n${IDENTITY_FIELDS.map((field) => `${field} ${fields[field]}`).join('\n')}\n`,
  );
  return { digest: `sha256:${digest}`, fields };
}

/** The fields in which two identities differ (empty: the same version). */
export function identityDifferences(a: VersionIdentity, b: VersionIdentity): IdentityField[] {
  return IDENTITY_FIELDS.filter((field) => a.fields[field] !== b.fields[field]);
}
