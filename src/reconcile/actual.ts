import { CHECKS_PROPERTY, decodeChecks } from '../checks/record.js';
import type { Repository } from '../reader/repository.js';
import { decodeProvenance, identityOf } from './provenance.js';
import type { RepositoryState, TagState } from './plan.js';

/** What a (verified) repository holds, as plan sees it: tags with their provenance, and checks. */
export async function repositoryState(
  repository: Repository,
  rollingTag: string,
): Promise<RepositoryState> {
  const tags = await repository.tags();
  const history = await repository.history();
  return {
    fqrn: repository.manifest.fqrn,
    rollingTag,
    checks: decodeChecks(history?.property(CHECKS_PROPERTY)),
    tags: tags.map((tag): TagState => {
      const provenance = decodeProvenance(tag.description);
      const arrived = provenance === undefined ? NaN : Date.parse(provenance.at);
      return {
        name: tag.name,
        rootHash: tag.hashHex,
        timestamp: tag.timestamp,
        identity: provenance === undefined ? undefined : identityOf(provenance),
        ...(provenance !== undefined && { provenance }),
        ...(Number.isFinite(arrived) && { arrivedAt: Math.floor(arrived / 1000) }),
      };
    }),
  };
}
