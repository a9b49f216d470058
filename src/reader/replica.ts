import pLimit from 'p-limit';
import { isUcvmError } from '../errors.js';
import { reachableObjects } from './reachable.js';
import type { Repository } from './repository.js';

export interface ReplicaReport {
  ok: boolean;
  /** Where they differ: a replica behind or ahead, other tags, a missing object. */
  problems: string[];
  stratum0: { location: string; revision: number; rootHash: string };
  replica: { location: string; revision: number; rootHash: string };
  /** Objects reachable from the stratum 0's tags, each looked up in the replica. */
  objects: number;
  missing: number;
}

/** How many objects a report names one by one; the rest are counted. */
const NAMED = 20;

/**
 * Compares a replica (a stratum 1, a bucket, a mirror) with its stratum 0, both already opened
 * and verified: the same revision, the same root catalog, the same tags, and every object
 * reachable from the stratum 0's tags present in the replica (an existence check: the replica's
 * own `verify` hashes what it holds).
 */
export async function compareReplica(
  stratum0: Repository,
  replica: Repository,
  options: { concurrency?: number } = {},
): Promise<ReplicaReport> {
  const problems: string[] = [];
  const ours = stratum0.manifest;
  const theirs = replica.manifest;
  if (theirs.revision < ours.revision)
    problems.push(
      `the replica is behind: revision ${theirs.revision}, the stratum 0 is at ${ours.revision} (run its snapshot, or wait for the next one)`,
    );
  else if (theirs.revision > ours.revision)
    problems.push(
      `the replica is ahead of its stratum 0: revision ${theirs.revision} against ${ours.revision} (another source, or a restored stratum 0)`,
    );
  if (theirs.rootCatalog !== ours.rootCatalog)
    problems.push(
      `root catalogs differ: ${theirs.rootCatalog} in the replica, ${ours.rootCatalog} in the stratum 0`,
    );

  const tags = await stratum0.tags();
  const replicaTags = new Map((await replica.tags()).map((tag) => [tag.name, tag.hashHex]));
  for (const tag of tags) {
    const held = replicaTags.get(tag.name);
    if (held === undefined) problems.push(`tag ${tag.name} is missing from the replica`);
    else if (held !== tag.hashHex)
      problems.push(`tag ${tag.name} is ${held} in the replica, ${tag.hashHex} in the stratum 0`);
  }

  const reachable = await reachableObjects(
    stratum0,
    tags.map((tag) => tag.hashHex),
  );
  const limit = pLimit(options.concurrency ?? 16);
  const missing: string[] = [];
  await Promise.all(
    [...reachable.paths].map((path) =>
      limit(async () => {
        const present = await replica.source.has(path).catch((error: unknown) => {
          if (isUcvmError(error)) {
            problems.push(`${path}: ${error.message}`);
            return true;
          }
          throw error;
        });
        if (!present) missing.push(path);
      }),
    ),
  );
  missing.sort();
  for (const path of missing.slice(0, NAMED)) problems.push(`${path} is missing from the replica`);
  if (missing.length > NAMED) problems.push(`… and ${missing.length - NAMED} more objects missing`);
  return {
    ok: problems.length === 0,
    problems,
    stratum0: {
      location: stratum0.source.location,
      revision: ours.revision,
      rootHash: ours.rootCatalog,
    },
    replica: {
      location: replica.source.location,
      revision: theirs.revision,
      rootHash: theirs.rootCatalog,
    },
    objects: reachable.paths.size,
    missing: missing.length,
  };
}
