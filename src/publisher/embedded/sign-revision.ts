import { TRUNK, TRUNK_PREVIOUS } from '../../cvmfs/history.js';
import type { SigningKeys } from '../../keys/index.js';
import type { VerifiedBase } from './base.js';
import { commitManifest, putHistory, putMetadataObject, type EmbeddedContext } from './context.js';

/** A new revision of the repository: the root catalog it names and the tags that point at it. */
export interface NewRevision {
  rootHash: string;
  rootSize: number;
  /** The manifest's revision number. */
  revision: number;
  /** The root catalog's own `revision` (a tag records it; a reused catalog keeps its own). */
  catalogRevision: number;
  publishedAt: number;
  tag: string;
  description: string;
  rollingTags: readonly string[];
  /** Leave a tag of that name as it is (it holds this root already). */
  keepExistingTag?: boolean;
}

/**
 * Writes the tag database of a new revision (trunk-previous, trunk, the named tag, the rolling
 * tags) and the certificate, then signs and commits the manifest: the step that makes a
 * publish or an import visible. Objects it stores are added to `written`; `whileFlushing` see
 * commitManifest.
 */
export async function signNewRevision(
  context: EmbeddedContext,
  base: VerifiedBase,
  keys: SigningKeys,
  next: NewRevision,
  written: string[],
  whileFlushing?: () => void,
): Promise<void> {
  const history = base.history;
  const previous = base.repository.manifest;
  const trunk = history.get(TRUNK);
  if (trunk !== undefined)
    history.put({ ...trunk, name: TRUNK_PREVIOUS, description: 'default undo target' });
  const tagged = {
    hashHex: next.rootHash,
    revision: next.catalogRevision,
    timestamp: next.publishedAt,
    size: next.rootSize,
    branch: '',
  };
  history.put({ ...tagged, name: TRUNK, description: 'current HEAD' });
  if (next.keepExistingTag !== true || history.get(next.tag) === undefined)
    history.put({ ...tagged, name: next.tag, description: next.description });
  for (const rolling of next.rollingTags)
    history.put({ ...tagged, name: rolling, description: next.description });
  if (previous.history !== undefined) history.setProperty('previous_revision', previous.history);
  const historyHash = await putHistory(context, history, written);
  const certificate = await putMetadataObject(context, Buffer.from(keys.certificatePem), 'X', {
    written,
  });
  await commitManifest(
    context,
    {
      rootCatalog: next.rootHash,
      rootCatalogSize: next.rootSize,
      ttl: context.ttl,
      revision: next.revision,
      garbageCollectable: true,
      fqrn: context.fqrn,
      certificate,
      history: historyHash,
      publishedAt: next.publishedAt,
    },
    keys,
    whileFlushing,
  );
}
