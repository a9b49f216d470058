import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { loadPublicKey } from '../../src/keys/index.js';
import { CvmfsServerPublisher } from '../../src/publisher/cvmfs-server/index.js';
import type { Publisher } from '../../src/publisher/publisher.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import type { Repository } from '../../src/reader/repository.js';
import { directorySource, httpSource } from '../../src/reader/source.js';
import { serveInChild } from '../helpers/cli.js';
import { findCvmfsClient, mountRepository } from '../helpers/cvmfs-client.js';
import { cvmfsServerSkipReason, makeServerRepository } from '../helpers/cvmfs-server.js';
import { describeTree } from '../helpers/describe-tree.js';
import { makeRepo, masterKeysOf } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { makeTempDir, removeDir, writeTree } from '../helpers/tmp.js';

/** One backend under the contract: how to make a repository, read it, and mount it. */
interface Backend {
  name: string;
  skip: string | undefined;
  make(base: string): Promise<{
    publisher: Publisher;
    open(): Promise<Repository>;
    /** Base URL and key for the real client. */
    serve(): Promise<{ url: string; fqrn: string; publicKey: string; close(): Promise<void> }>;
    /** What the backend keeps of a tree, as the client shows it. */
    expected(tree: Map<string, string>): Map<string, string>;
    remove(): void;
  }>;
}

const backends: Backend[] = [
  {
    name: 'embedded',
    skip: undefined,
    async make(base) {
      const repo = await makeRepo({ base });
      return {
        publisher: repo.publisher,
        open: () =>
          openVerifiedRepository(directorySource(repo.storage), { masterKeys: masterKeysOf(repo) }),
        serve: async () => {
          const served = await serveInChild([repo.storage]);
          return {
            url: `${served.url}/test.example.org`,
            fqrn: 'test.example.org',
            publicKey: path.join(repo.keys, 'test.example.org.pub'),
            close: () => served.close(),
          };
        },
        expected: (tree) => tree,
        remove: () => undefined,
      };
    },
  },
  {
    name: 'cvmfs-server',
    skip: cvmfsServerSkipReason(),
    make() {
      const fqrn = `contract-${randomBytes(3).toString('hex')}.test.org`;
      const server = makeServerRepository(fqrn, { CVMFS_INCLUDE_XATTRS: 'true' });
      const publicKey = `/etc/cvmfs/keys/${fqrn}.pub`;
      const url = `http://localhost/cvmfs/${fqrn}`;
      return Promise.resolve({
        publisher: new CvmfsServerPublisher({ fqrn }),
        open: async () =>
          openVerifiedRepository(httpSource(url), {
            masterKeys: [await loadPublicKey(publicKey)],
            fqrn,
          }),
        serve: () => Promise.resolve({ url, fqrn, publicKey, close: () => Promise.resolve() }),
        // On OverlayFS, cvmfs_server publishes hard links as separate files.
        expected: (tree) =>
          new Map([...tree].map(([name, line]) => [name, line.replace(/ nlink=\d+/, ' nlink=1')])),
        remove: () => server.remove(),
      });
    },
  },
];

for (const { name, skip } of backends)
  if (skip !== undefined) console.log(`test/publisher/contract (${name}): skipped: ${skip}`);

/** The Publisher contract, the same tests for every backend. */
describe.each(backends)('the publisher contract: $name backend', (backend) => {
  describe.skipIf(backend.skip !== undefined)(
    backend.skip ?? 'publishes, tags and reads back',
    () => {
      let base: string;
      let tree: string;
      let subject: Awaited<ReturnType<Backend['make']>>;

      beforeAll(async () => {
        base = await makeTempDir('ucvm-contract-');
        tree = path.join(base, 'tree');
        buildRichTree(tree);
        subject = await backend.make(base);
      }, 120_000);
      afterAll(async () => {
        subject?.remove();
        await removeDir(base);
      });

      it('publishes a tree as a tagged revision with its rolling tag, read back by the reader', async () => {
        const result = await subject.publisher.publish({
          tree,
          tag: 'v1',
          rollingTags: ['HEAD'],
          description: 'first version',
        });
        expect(result.tag).toBe('v1');
        const repository = await subject.open();
        try {
          const snapshot = await repository.snapshot('v1');
          expect(snapshot.rootHash).toBe(result.rootHash);
          expect((await snapshot.readFile('/etc/motd')).toString()).toBe('hello\n');
          expect((await snapshot.list('/')).map((entry) => entry.path).sort()).toEqual([
            '/big.bin',
            '/bin',
            '/data',
            '/dev',
            '/empty',
            '/etc',
            '/links',
            '/sw',
          ]);
          const tags = await repository.tags();
          expect(tags.find((tag) => tag.name === 'HEAD')?.hashHex).toBe(result.rootHash);
          expect(repository.manifest.revision).toBe(result.revision);
        } finally {
          repository.close();
        }
        const state = await subject.publisher.state();
        expect(state.rootHash).toBe(result.rootHash);
        expect(state.tags.find((tag) => tag.name === 'v1')?.description).toBe('first version');
      });

      it.skipIf(findCvmfsClient() === undefined)(
        'mounts with the real client exactly as published',
        async () => {
          const served = await subject.serve();
          try {
            const mount = await mountRepository(findCvmfsClient()!, {
              work: path.join(base, 'client'),
              baseUrl: served.url,
              fqrn: served.fqrn,
              publicKey: served.publicKey,
              tag: 'v1',
              name: 'contract',
            });
            try {
              expect(describeTree(mount.dir)).toEqual(subject.expected(describeTree(tree)));
            } finally {
              mount.unmount();
            }
          } finally {
            await served.close();
          }
        },
        120_000,
      );

      it('never changes a named tag, moves rolling tags, and keeps its own tags', async () => {
        const v1 = (await subject.publisher.state()).tags.find((tag) => tag.name === 'v1')!.hashHex;
        await writeTree(tree, { 'etc/motd': 'changed\n' });
        const refused = await subject.publisher
          .publish({ tree, tag: 'v1' })
          .catch((e: unknown) => e);
        expect(isUcvmError(refused, 'TAG_IMMUTABLE')).toBe(true);
        const v2 = await subject.publisher.publish({ tree, tag: 'v2', rollingTags: ['HEAD'] });
        const back = await subject.publisher.tag({ name: 'HEAD', target: 'v1' });
        expect(back).toMatchObject({
          rootHash: v1,
          previousRootHash: v2.rootHash,
          unchanged: false,
        });
        expect((await subject.publisher.tag({ name: 'HEAD', target: 'v1' })).unchanged).toBe(true);
        expect(
          isUcvmError(
            await subject.publisher.removeTag('trunk').catch((e: unknown) => e),
            'TAG_RESERVED',
          ),
        ).toBe(true);
        await subject.publisher.removeTag('v2');
        const names = (await subject.publisher.state()).tags.map((tag) => tag.name);
        expect(names).toEqual(expect.arrayContaining(['v1', 'HEAD', 'trunk']));
        expect(names).not.toContain('v2');
      });

      it('refuses a bad tag name before it writes anything', async () => {
        const before = (await subject.publisher.state()).revision;
        for (const tag of ['trunk', 'has space', ''])
          expect(await subject.publisher.publish({ tree, tag }).catch((e: unknown) => e)).toSatisfy(
            (error) => isUcvmError(error, 'TAG_INVALID') || isUcvmError(error, 'TAG_RESERVED'),
          );
        expect((await subject.publisher.state()).revision).toBe(before);
      });
    },
  );
});
