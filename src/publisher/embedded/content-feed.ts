import { objectPath } from '../../cvmfs/hash.js';
import { UcvmError } from '../../errors.js';
import type { Logger, Progress } from '../../log.js';
import type { ContentStore, StoredContent } from './content.js';
import { storedObjectHashes } from './state-cache.js';
import type { TreeNode } from './tree.js';

/** What the feed did, once it is finished: every regular file of the tree then has its `content`. */
export interface StoredContents {
  /**
   * Flushes the new objects to disk, started as the content is done so that the disk writes
   * while the catalogs are built (the commit's own flush then has little left); awaited before
   * the commit.
   */
  writeback: Promise<void>;
  /** Unchanged files whose objects are missing (looked for in the background). */
  lost: Promise<TreeNode[]>;
}

/**
 * Objects looked for in one message to the workers. A tree of fewer files sends them all at once
 * when the scan is done (the workers look while the catalogs are built): each of the 256 object
 * directories then holds enough of them that a worker lists it once instead of looking its names
 * up one by one (see ObjectLookup); a larger tree sends batches this large as it goes, and the
 * worker that listed the directories answers them all from its listings.
 */
const CHECK_BATCH = 32768;

/** Looks for the objects of files in the storage, in batches sent to the content workers. */
class ObjectSearch {
  /** Object names, and the file each is of, side by side: no map or array per file. */
  private names: string[] = [];
  private nodes: TreeNode[] = [];
  private readonly answers: Array<Promise<TreeNode[]>> = [];

  constructor(private readonly content: ContentStore) {}

  add(node: TreeNode, stored: StoredContent): void {
    const suffix = stored.chunks === undefined ? '' : 'P';
    for (const hash of storedObjectHashes(stored)) {
      this.names.push(objectPath(hash, suffix));
      this.nodes.push(node);
    }
    if (this.names.length >= CHECK_BATCH) this.send();
  }

  /** The files of which an object is missing, once every answer is in. */
  async lost(): Promise<TreeNode[]> {
    this.send();
    const lost = new Set<TreeNode>();
    for (const nodes of await Promise.all(this.answers)) for (const node of nodes) lost.add(node);
    return [...lost];
  }

  private send(): void {
    const { names, nodes } = this;
    if (names.length === 0) return;
    this.names = [];
    this.nodes = [];
    const answer = this.content.missing(names).then((missing) => {
      if (missing.length === 0) return [];
      const gone = new Set(missing);
      return nodes.filter((_, i) => gone.has(names[i]!));
    });
    // Awaited in lost(); a feed given up on must not leave it unhandled.
    answer.catch(() => undefined);
    this.answers.push(answer);
  }
}

/**
 * Hands the regular files of a tree to the content store as the scan finds them, so that the
 * workers compress while the scan goes on. A file unchanged since the last publish (by its
 * stamp) takes its content from the spool; the rest goes to the workers, which store the largest
 * first. The objects of the unchanged files are looked for by the workers meanwhile (`lost`, see
 * `restoreLost`): every object the new catalogs name is checked to exist before anything is
 * signed.
 */
export class ContentFeed {
  private readonly changed: TreeNode[] = [];
  private readonly search: ObjectSearch | undefined;
  private readonly jobs: Array<Promise<unknown>> = [];
  private firstFailure: { error: unknown } | undefined;
  private bytes = 0;

  /** `progress` is the content store's, started when the files are all known (see deferredProgress). */
  constructor(
    private readonly content: ContentStore,
    private readonly progress: Progress,
    dryRun: boolean,
  ) {
    // A dry run writes nothing and signs nothing: there is nothing to check for.
    if (!dryRun) this.search = new ObjectSearch(content);
  }

  /**
   * The files handed over so far whose content is stored (read) by this publish; the others'
   * came from the stamps.
   */
  get changedFiles(): readonly TreeNode[] {
    return this.changed;
  }

  /** A regular file of the tree, or a synthetic one the publisher added (no source). */
  add(node: TreeNode): void {
    this.bytes += node.size;
    const known = this.content.unchanged(node);
    if (known !== undefined) {
      node.content = known;
      this.search?.add(node, known);
      return;
    }
    this.changed.push(node);
    const job = this.content.content(node).then(
      (stored) => void (node.content = stored),
      (error: unknown) => {
        // The first failure stops the work: queued files fail at once, started ones finish.
        if (this.firstFailure === undefined) {
          this.firstFailure = { error };
          this.content.cancel(error instanceof Error ? error : new Error(String(error)));
        }
        throw error;
      },
    );
    // Settled (and thrown) in finish(); a feed given up on must not leave it unhandled.
    job.catch(() => undefined);
    this.jobs.push(job);
  }

  /**
   * Gives up (the scan failed): files not yet with a worker are dropped, and the ones being
   * stored are waited for, so that the objects they wrote are known and removed with the rest.
   */
  async abandon(reason: Error): Promise<void> {
    this.content.cancel(reason);
    await Promise.allSettled(this.jobs);
  }

  /**
   * Waits for every file handed over. Every job settles before the first failure is thrown, so
   * that what the others wrote is known and removed with the rest when the publish fails.
   */
  async finish(): Promise<StoredContents> {
    this.progress.start('publishing', this.bytes);
    await Promise.allSettled(this.jobs);
    this.progress.stop(this.firstFailure === undefined);
    // The failure that came first, not one of the jobs stopped because of it.
    if (this.firstFailure !== undefined) throw this.firstFailure.error;
    const lost = this.search?.lost() ?? Promise.resolve([]);
    lost.catch(() => undefined);
    // Nothing written (a dry run, no changed file) is nothing to flush: writeback() sees to it.
    const writeback = this.content.writeback();
    // Awaited before the commit; a publish that fails before that must not leave it unhandled.
    writeback.catch(() => undefined);
    return { writeback, lost };
  }
}

function sameContent(a: StoredContent, b: StoredContent): boolean {
  return (
    a.hash === b.hash &&
    a.compression === b.compression &&
    storedObjectHashes(a).join() === storedObjectHashes(b).join()
  );
}

/**
 * Files unchanged since the last publish whose objects the storage lost behind the spool's back
 * are stored again. True if any of them now holds other content than the spool remembered
 * (and the catalogs were built with): they must be built again.
 */
export async function restoreLost(
  stored: StoredContents,
  content: ContentStore,
  logger: Logger,
): Promise<boolean> {
  const lost = await stored.lost;
  if (lost.length === 0) return false;
  logger.warn('objects the spool remembered are missing; storing them again', {
    files: lost.length,
  });
  let differs = false;
  for (const node of lost) {
    const again = await content.content(node);
    if (!sameContent(again, node.content!)) {
      node.content = again;
      differs = true;
    }
  }
  const search = new ObjectSearch(content);
  for (const node of lost) search.add(node, node.content!);
  const still = await search.lost();
  if (still.length > 0)
    throw new UcvmError(
      'OBJECT_MISSING',
      `objects of ${still[0]!.source} are still missing after storing it`,
      { where: { path: still[0]!.source } },
    );
  return differs;
}
