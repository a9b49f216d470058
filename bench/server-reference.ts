import { makeServerRepository, cvmfsServerSkipReason } from '../test/helpers/cvmfs-server.js';
import { shellQuote, timeShell } from './shell.js';

/**
 * The real `cvmfs_server` publishing the same tree, where one is set up on this machine (built
 * outside the project): the tree copied into a transaction (`cp -a`, timed apart), then
 * `cvmfs_server publish`; later the changed tree synced in (`rsync -a --delete`) and published
 * again. Elsewhere it reports why it was skipped.
 */
export type ServerTiming =
  | { skipped: string }
  | {
      /** Seconds of the copy into the transaction (not part of `publishSeconds`). */
      copySeconds: number;
      publishSeconds: number;
    };

export interface ServerReference {
  full(tree: string): Promise<ServerTiming>;
  changed(tree: string): Promise<ServerTiming>;
  remove(): void;
}

const FQRN = 'bench-server.example.org';

/** One line for people: the publish time and the copy's, or why it was skipped. */
export function describeServerTiming(timing: ServerTiming | undefined): string {
  if (timing === undefined) return 'not run';
  return 'skipped' in timing
    ? `skipped (${timing.skipped})`
    : `${timing.publishSeconds.toFixed(2)} s (+ ${timing.copySeconds.toFixed(2)} s copying into the transaction)`;
}

/** A reference that only says why it was not run. */
export function skippedServer(reason: string): ServerReference {
  const skipped = (): Promise<ServerTiming> => Promise.resolve({ skipped: reason });
  return { full: skipped, changed: skipped, remove: () => undefined };
}

export function openServerReference(): ServerReference {
  const skip = cvmfsServerSkipReason();
  if (skip !== undefined) return skippedServer(skip);
  let repository: ReturnType<typeof makeServerRepository> | undefined;
  const mount = `/cvmfs/${FQRN}`;
  const publish = async (copy: string): Promise<ServerTiming> => {
    await timeShell(`cvmfs_server transaction ${FQRN} > /dev/null`);
    try {
      const copied = await timeShell(copy);
      const published = await timeShell(`cvmfs_server publish ${FQRN} > /dev/null`);
      return { copySeconds: copied.seconds, publishSeconds: published.seconds };
    } catch (error) {
      await timeShell(`cvmfs_server abort -f ${FQRN} > /dev/null 2>&1 || true`);
      throw error;
    }
  };
  return {
    async full(tree) {
      repository?.remove();
      repository = makeServerRepository(FQRN);
      return publish(`rm -f ${mount}/new_repository && cp -a ${shellQuote(tree)}/. ${mount}/`);
    },
    async changed(tree) {
      if (repository === undefined) throw new Error('cvmfs_server reference: no full publish yet');
      return publish(`rsync -a --delete ${shellQuote(tree)}/ ${mount}/`);
    },
    remove() {
      repository?.remove();
      repository = undefined;
    },
  };
}
