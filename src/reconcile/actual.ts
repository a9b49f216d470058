import type { Repository } from '../reader/repository.js';
import { decodeProvenance, identityOf } from './provenance.js';
import type { RepositoryState } from './plan.js';

/** What a (verified) repository holds, as plan sees it: tags with the identities they record. */
export async function repositoryState(
  repository: Repository,
  rollingTag: string,
): Promise<RepositoryState> {
  const tags = await repository.tags();
  return {
    fqrn: repository.manifest.fqrn,
    rollingTag,
    tags: tags.map((tag) => {
      const provenance = decodeProvenance(tag.description);
      return {
        name: tag.name,
        rootHash: tag.hashHex,
        timestamp: tag.timestamp,
        identity: provenance === undefined ? undefined : identityOf(provenance),
      };
    }),
  };
}
