import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUcvmError, type UcvmError } from '../../src/errors.js';
import { loadPublicKey } from '../../src/keys/index.js';
import type { Logger } from '../../src/log.js';
import { CvmfsServerPublisher } from '../../src/publisher/cvmfs-server/index.js';
import { diffSnapshots } from '../../src/reader/diff.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import type { Repository } from '../../src/reader/repository.js';
import { directorySource, httpSource } from '../../src/reader/source.js';
import { serveInChild } from '../helpers/cli.js';
import { cvmfsServerSkipReason, makeServerRepository } from '../helpers/cvmfs-server.js';
import { findCvmfsClient, mountRepository } from '../helpers/cvmfs-client.js';
import { describeTree } from '../helpers/describe-tree.js';
import { makeRepo, masterKeysOf, type TestRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { makeTempDir, removeDir, writeTree } from '../helpers/tmp.js';

const skip = cvmfsServerSkipReason();
if (skip !== undefined) console.log(`test/publisher/cvmfs-server: skipped: ${skip}`);

/** What is particular to cvmfs_server; the Publisher contract itself is in contract.test.ts. */
describe.skipIf(skip !== undefined)('the cvmfs-server backend against a real stratum 0', () => {
  const fqrn = `ucvm-${randomBytes(3).toString('hex')}.test.org`;
  let server: ReturnType<typeof makeServerRepository>;
  let base: string;
  let tree: string;
  let embedded: TestRepo;
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message) => void warnings.push(message),
    error() {},
  };
  const publisher = () => new CvmfsServerPublisher({ fqrn, rollingTags: ['HEAD'], logger });
  const openServer = async (): Promise<Repository> =>
    openVerifiedRepository(httpSource(`http://localhost/cvmfs/${fqrn}`), {
      masterKeys: [await loadPublicKey(`/etc/cvmfs/keys/${fqrn}.pub`)],
      fqrn,
    });
  const list = () => execFileSync('cvmfs_server', ['list'], { encoding: 'utf8' });

  beforeAll(async () => {
    server = makeServerRepository(fqrn, { CVMFS_INCLUDE_XATTRS: 'true' });
    base = await makeTempDir('ucvm-server-');
    tree = path.join(base, 'tree');
    buildRichTree(tree);
    // The root's mtime well in the past: cvmfs_server stamps the root with the time of its
    // publish, which then always differs (in the same second as the tree was made, it did not).
    utimesSync(tree, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    embedded = await makeRepo({ base });
  }, 120_000);
  afterAll(async () => {
    server?.remove();
    await removeDir(base);
  });

  it('publishes a tree that reads back as the embedded backend publishes it, through the reader', async () => {
    warnings.length = 0;
    const result = await publisher().publish({
      tree,
      tag: 'cernvm-system-1.0.0',
      description: '{"a provenance": "with spaces and $(quotes)"}',
      rollingTags: ['HEAD'],
    });
    await embedded.publisher.publish({ tree, tag: 'cernvm-system-1.0.0' });
    const ours = await openVerifiedRepository(directorySource(embedded.storage), {
      masterKeys: masterKeysOf(embedded),
    });
    const theirs = await openServer();
    const diff = await diffSnapshots(
      await ours.snapshot('cernvm-system-1.0.0'),
      await theirs.snapshot('cernvm-system-1.0.0'),
    );
    // cvmfs_server stamps the repository's root directory with the time of the publish.
    expect(diff.changes).toEqual([
      {
        path: '',
        change: 'modified',
        kind: 'directory',
        fields: ['mtime'],
        fromSize: 4096,
        toSize: 4096,
      },
    ]);
    expect(warnings).toContain(
      `${fqrn}: 2 files are hard links; cvmfs_server on OverlayFS publishes them as separate files`,
    );
    const tags = await publisher().tags();
    const tagged = tags.find((tag) => tag.name === 'cernvm-system-1.0.0')!;
    expect(tagged.hashHex).toBe(result.rootHash);
    expect(tagged.description).toBe('{"a provenance": "with spaces and $(quotes)"}');
    expect(tags.find((tag) => tag.name === 'HEAD')?.hashHex).toBe(result.rootHash);
    const state = await publisher().state();
    expect(state.revision).toBe(result.revision);
    expect(state.whitelistExpiresAt!.getTime()).toBeGreaterThan(Date.now());
    ours.close();
    theirs.close();
  });

  it.skipIf(findCvmfsClient() === undefined)(
    'mounts identically with the real client: the same tree from either backend',
    async () => {
      const client = findCvmfsClient()!;
      const work = path.join(base, 'client');
      const served = await serveInChild([embedded.storage]);
      try {
        const fromServer = await mountRepository(client, {
          work,
          baseUrl: `http://localhost/cvmfs/${fqrn}`,
          fqrn,
          publicKey: `/etc/cvmfs/keys/${fqrn}.pub`,
          tag: 'cernvm-system-1.0.0',
          name: 'server',
        });
        const fromEmbedded = await mountRepository(client, {
          work,
          baseUrl: `${served.url}/test.example.org`,
          fqrn: 'test.example.org',
          publicKey: path.join(embedded.keys, 'test.example.org.pub'),
          tag: 'cernvm-system-1.0.0',
          name: 'embedded',
        });
        try {
          // cvmfs_server on OverlayFS publishes hard links as separate files (the backend warns);
          // everything else is the same.
          const unlinked = (tree: Map<string, string>) =>
            new Map([...tree].map(([name, line]) => [name, line.replace(/ nlink=\d+/, '')]));
          const server = describeTree(fromServer.dir);
          expect(unlinked(server)).toEqual(unlinked(describeTree(fromEmbedded.dir)));
          expect(server.get('/links/a')).toContain('nlink=1');
        } finally {
          fromServer.unmount();
          fromEmbedded.unmount();
        }
      } finally {
        await served.close();
      }
    },
    120_000,
  );

  it('aborts a transaction a crashed run left open, and says so; a failed sync aborts its own', async () => {
    execFileSync('cvmfs_server', ['transaction', fqrn], { stdio: 'ignore' });
    expect(list()).toMatch(new RegExp(`${fqrn.replace(/\./g, '\\.')} .*in transaction`));
    warnings.length = 0;
    const before = (await publisher().state()).revision;
    await writeTree(tree, { 'etc/version': '1.2.0\n' });
    const published = await publisher().publish({ tree, tag: 'cernvm-system-1.2.0' });
    expect(warnings).toContain(
      `${fqrn}: a transaction was left open (an interrupted run); aborting it`,
    );
    expect(published.revision).toBeGreaterThan(before);

    // The sync fails (its target is not the transaction's tree): nothing is published, and no
    // transaction stays open.
    await writeTree(base, { 'not-a-directory': 'x' });
    const broken = new CvmfsServerPublisher({
      fqrn,
      mountpoint: path.join(base, 'not-a-directory'),
      logger,
    });
    const failed = await broken
      .publish({ tree, tag: 'cernvm-system-1.3.0' })
      .catch((e: unknown) => e);
    expect(isUcvmError(failed, 'COMMAND_FAILED')).toBe(true);
    expect((failed as Error).message).toMatch(/^rsync failed/);
    expect(list()).not.toContain('in transaction');
    const tags = (await publisher().tags()).map((tag) => tag.name);
    expect(tags).not.toContain('cernvm-system-1.3.0');
    expect((await publisher().state()).revision).toBe(published.revision);
  });

  it('finds its own state while another repository of the host is half made', async () => {
    // What a concurrent `cvmfs_server mkfs` leaves for a moment: a repository without server.conf,
    // which makes `cvmfs_server list` fail.
    const halfMade = `/etc/cvmfs/repositories.d/half-made-${randomBytes(4).toString('hex')}.test.local`;
    mkdirSync(halfMade);
    try {
      const done = setTimeout(() => rmSync(halfMade, { recursive: true, force: true }), 700);
      expect(await publisher().abortLeftover()).toBe(false);
      clearTimeout(done);
      mkdirSync(halfMade, { recursive: true });
      // One that stays half made is reported, with what cvmfs_server said.
      const error = await publisher()
        .abortLeftover()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isUcvmError(error, 'COMMAND_FAILED'), String(error)).toBe(true);
      expect((error as UcvmError).details).toContain('server.conf');
    } finally {
      rmSync(halfMade, { recursive: true, force: true });
    }
  }, 30_000);
});
