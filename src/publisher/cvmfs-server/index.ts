import { readdir, lstat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TRUNK, TRUNK_PREVIOUS, type Tag } from '../../cvmfs/history.js';
import { AUTOMATIC_TAGS, tagNameProblem } from '../../cvmfs/fqrn.js';
import { isUcvmError, UcvmError } from '../../errors.js';
import { loadPublicKey } from '../../keys/index.js';
import { silentLogger, type Logger, type Progress } from '../../log.js';
import { openVerifiedRepository } from '../../reader/open.js';
import { httpSource } from '../../reader/source.js';
import { run, type RunResult } from '../../exec/index.js';
import type {
  CheckRequest,
  ImportResult,
  Publisher,
  PublishRequest,
  PublishResult,
  RepoState,
  TagRequest,
  TagResult,
} from '../publisher.js';
import { descriptionText, descriptionWord } from './description.js';
import { serverCli, type ServerCli } from './server-cli.js';
import { parseTagList } from './tags.js';

/** `cvmfs_server list` is tried this often, waiting a little longer each time (see listRepositories). */
const LIST_ATTEMPTS = 4;
const LIST_RETRY_MS = 500;

export interface CvmfsServerOptions {
  fqrn: string;
  /** The `cvmfs_server` program (default: on PATH). */
  binary?: string;
  /** Where the stratum 0 serves the repository (default `http://localhost/cvmfs/<fqrn>`). */
  url?: string;
  /** The master public key (default `/etc/cvmfs/keys/<fqrn>.pub`, where cvmfs_server keeps it). */
  publicKey?: string;
  /** Where the open transaction's writable tree is (default `/cvmfs/<fqrn>`). */
  mountpoint?: string;
  /** The rolling tags that follow every publish (the pipeline's, e.g. HEAD). */
  rollingTags?: readonly string[];
  logger?: Logger;
  /** A whitelist expiring sooner than this is warned about (default 7 days). */
  whitelistWarningDays?: number;
  cli?: ServerCli;
}

const DAY = 86_400_000;

/**
 * Publishes through a site's real stratum 0: `cvmfs_server` with its documented commands, run
 * with execa. What ucvm adds is what a release manager needs around them: a transaction left
 * open by a crash is aborted first (and said so); the tree and the tag are checked before a
 * transaction is opened; the tree is synced with rsync (deletes, hard links, xattrs, special
 * files); any failure after the transaction opened aborts it. Repositories behind a gateway
 * take the same commands. The rolling tags move in a second, catalog-free revision
 * (`tag -a … -h`), as cvmfs_server itself moves HEAD.
 */
export class CvmfsServerPublisher implements Publisher {
  readonly kind = 'cvmfs-server' as const;
  readonly capabilities = { gc: false, servableDirectory: false };
  readonly fqrn: string;
  private readonly cli: ServerCli;
  private readonly logger: Logger;

  constructor(private readonly options: CvmfsServerOptions) {
    this.fqrn = options.fqrn;
    this.cli = options.cli ?? serverCli(options.binary);
    this.logger = options.logger ?? silentLogger;
  }

  private get mountpoint(): string {
    return this.options.mountpoint ?? `/cvmfs/${this.fqrn}`;
  }

  /** The tags, from `cvmfs_server tag -lx`, descriptions decoded. */
  async tags(): Promise<Tag[]> {
    const { stdout } = await this.cli(['tag', '-lx', this.fqrn]);
    return parseTagList(stdout).map((tag) => ({
      ...tag,
      description: descriptionText(tag.description),
    }));
  }

  async state(): Promise<RepoState> {
    const url = this.options.url ?? `http://localhost/cvmfs/${this.fqrn}`;
    const key = await loadPublicKey(this.options.publicKey ?? `/etc/cvmfs/keys/${this.fqrn}.pub`);
    const repository = await openVerifiedRepository(httpSource(url), {
      masterKeys: [key],
      fqrn: this.fqrn,
      allowExpired: true,
    });
    try {
      const { whitelist } = await repository.whitelist();
      const left = whitelist.expiresAt.getTime() - Date.now();
      if (left < (this.options.whitelistWarningDays ?? 7) * DAY)
        this.logger.warn(
          `the whitelist of ${this.fqrn} ${left <= 0 ? 'expired' : 'expires'} on ${whitelist.expiresAt.toISOString()}: renew it with cvmfs_server resign ${this.fqrn}`,
        );
      return {
        fqrn: this.fqrn,
        revision: repository.manifest.revision,
        rootHash: repository.manifest.rootCatalog,
        publishedAt: new Date(repository.manifest.publishedAt * 1000),
        whitelistExpiresAt: whitelist.expiresAt,
        tags: await this.tags(),
      };
    } finally {
      repository.close();
    }
  }

  /** A transaction left open (a crashed run) is aborted; returns whether there was one. */
  async abortLeftover(): Promise<boolean> {
    const { stdout } = await this.listRepositories();
    const line = stdout.split('\n').find((entry) => entry.startsWith(`${this.fqrn} `));
    if (line === undefined)
      throw new UcvmError('REPO_NOT_FOUND', `cvmfs_server does not know ${this.fqrn}`, {
        details: `\`cvmfs_server list\` does not name it. Create it on the stratum 0 (cvmfs_server mkfs ${this.fqrn}) or correct the name.`,
      });
    if (!line.includes('in transaction')) return false;
    this.logger.warn(`${this.fqrn}: a transaction was left open (an interrupted run); aborting it`);
    await this.cli(['abort', '-f', this.fqrn]);
    return true;
  }

  /**
   * `cvmfs_server list`, tried again a few times: it fails while any repository of the host is
   * half made (another `mkfs` under way has not written its server.conf yet).
   */
  private async listRepositories(): Promise<RunResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.cli(['list']);
      } catch (error) {
        if (attempt === LIST_ATTEMPTS || !isUcvmError(error, 'COMMAND_FAILED')) throw error;
        await sleep(LIST_RETRY_MS * attempt);
      }
    }
  }

  async publish(request: PublishRequest, _progress?: Progress): Promise<PublishResult> {
    const started = Date.now();
    const tree = resolve(request.tree);
    const { hardLinked, ...stats } = await countTree(tree);
    if (hardLinked > 0)
      this.logger.warn(
        `${this.fqrn}: ${hardLinked} files are hard links; cvmfs_server on OverlayFS publishes them as separate files`,
      );
    const tag = request.tag ?? `generic-${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`;
    checkTagName(tag);
    for (const rolling of request.rollingTags ?? []) checkTagName(rolling);
    const description = descriptionWord(request.description ?? '');
    const tags = await this.tags();
    if (tags.some((existing) => existing.name === tag))
      throw new UcvmError('TAG_IMMUTABLE', `${tag} exists in ${this.fqrn}`, {
        details:
          'Named tags are immutable. cvmfs_server cannot tell whether this tree is what the tag holds; publish a new version under a new tag.',
      });
    const result = (revision: number, rootHash: string): PublishResult => ({
      fqrn: this.fqrn,
      revision,
      rootHash,
      tag,
      unchanged: false,
      dryRun: request.dryRun === true,
      stats: {
        ...stats,
        unchangedFiles: 0,
        knownContent: 0,
        objectsWritten: 0,
        bytesWritten: 0,
        catalogsWritten: 0,
        catalogsReused: 0,
        catalogsPatched: 0,
        seconds: (Date.now() - started) / 1000,
      },
    });
    const trunk = tags.find((existing) => existing.name === TRUNK);
    if (request.dryRun === true) return result((trunk?.revision ?? 0) + 1, trunk?.hashHex ?? '');

    await this.abortLeftover();
    await this.cli(['transaction', this.fqrn]);
    try {
      await run(
        'rsync',
        [
          '--archive',
          '--hard-links',
          '--xattrs',
          '--delete',
          '--numeric-ids',
          '--no-inc-recursive',
          `${tree}/`,
          `${this.mountpoint}/`,
        ],
        { timeoutMs: 3_600_000 },
      );
      const args = ['publish', '-a', tag];
      if (request.description !== undefined && request.description !== '')
        args.push('-m', description);
      await this.cli([...args, this.fqrn]);
    } catch (error) {
      await this.cli(['abort', '-f', this.fqrn]).catch((abortError: unknown) =>
        this.logger.warn(`${this.fqrn}: could not abort the transaction`, {
          error: String((abortError as Error).message),
        }),
      );
      throw error;
    }
    const published = (await this.tags()).find((existing) => existing.name === tag);
    if (published === undefined)
      throw new UcvmError(
        'COMMAND_FAILED',
        `cvmfs_server published ${this.fqrn} but lists no tag ${tag}`,
      );
    for (const rolling of request.rollingTags ?? [])
      await this.cli(['tag', '-a', rolling, '-h', published.hashHex, this.fqrn]);
    const trunkNow = (await this.tags()).find((existing) => existing.name === TRUNK);
    return result(trunkNow?.revision ?? published.revision, published.hashHex);
  }

  async tag(request: TagRequest): Promise<TagResult> {
    checkTagName(request.name);
    const tags = await this.tags();
    const target =
      tags.find((existing) => existing.name === request.target)?.hashHex ??
      (/^[0-9a-f]{40,}$/.test(request.target) &&
      tags.some((existing) => existing.hashHex === request.target)
        ? request.target
        : undefined);
    if (target === undefined)
      throw new UcvmError(
        'TAG_NOT_FOUND',
        `${request.target} is neither a tag nor a tagged root hash of ${this.fqrn}`,
      );
    const previous = tags.find((existing) => existing.name === request.name);
    if (previous?.hashHex === target)
      return {
        name: request.name,
        rootHash: target,
        revision: previous.revision,
        previousRootHash: target,
        unchanged: true,
      };
    const args = ['tag', '-a', request.name, '-h', target];
    if (request.description !== undefined) args.push('-m', descriptionWord(request.description));
    await this.cli([...args, this.fqrn]);
    const trunk = (await this.tags()).find((existing) => existing.name === TRUNK);
    return {
      name: request.name,
      rootHash: target,
      revision: trunk?.revision ?? 0,
      previousRootHash: previous?.hashHex,
      unchanged: false,
    };
  }

  async removeTag(name: string): Promise<void> {
    if (name === TRUNK || name === TRUNK_PREVIOUS)
      throw new UcvmError('TAG_RESERVED', `${name} is maintained by the repository itself`);
    if (!(await this.tags()).some((existing) => existing.name === name))
      throw new UcvmError('TAG_NOT_FOUND', `${this.fqrn} has no tag ${name}`);
    await this.cli(['tag', '-r', name, '-f', this.fqrn]);
  }

  importSnapshot(): Promise<ImportResult> {
    return Promise.reject(
      new UcvmError(
        'USAGE',
        `${this.fqrn} is published through cvmfs_server, which cannot import another repository's snapshot`,
        {
          details:
            'Promote into it by publishing the version from its manifest (reconcile builds it), or keep the promotion target on the embedded backend.',
        },
      ),
    );
  }

  recordCheck(_request: CheckRequest): Promise<void> {
    return Promise.reject(
      new UcvmError(
        'USAGE',
        `${this.fqrn} is published through cvmfs_server, whose tag database ucvm does not write`,
        {
          details: 'Record checks in a repository on the embedded backend.',
        },
      ),
    );
  }
}

function checkTagName(tag: string): void {
  const problem = tagNameProblem(tag);
  if (problem !== undefined)
    throw new UcvmError('TAG_INVALID', `${JSON.stringify(tag)}: ${problem}`);
  if (AUTOMATIC_TAGS.has(tag))
    throw new UcvmError('TAG_RESERVED', `${tag} is maintained by the repository itself`);
}

/** Files and bytes of a tree (for the report), and a check that it is a readable directory. */
async function countTree(
  root: string,
): Promise<{ files: number; bytes: number; hardLinked: number }> {
  const top = await lstat(root).catch(() => undefined);
  if (top === undefined || !top.isDirectory())
    throw new UcvmError('TREE_INVALID', `${root} is not a directory`, { where: { path: root } });
  let files = 0;
  let bytes = 0;
  let hardLinked = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const stats = await lstat(path);
        files++;
        bytes += stats.size;
        if (stats.nlink > 1) hardLinked++;
      }
    }
  };
  await walk(root);
  return { files, bytes, hardLinked };
}
