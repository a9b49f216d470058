import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVerifiedRepository } from '../../src/reader/open.js';
import { directorySource } from '../../src/reader/source.js';
import { serveInChild } from '../helpers/cli.js';
import {
  CLIENT_SKIP_REASON,
  findCvmfsClient,
  mountRepository,
  swissknifeCheck,
} from '../helpers/cvmfs-client.js';
import { describeTree } from '../helpers/describe-tree.js';
import { makeRepo, masterKeysOf, type TestRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { manifestLine } from '../helpers/tamper.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const client = findCvmfsClient();

if (client === undefined) console.log(`test/client (promotion): ${CLIENT_SKIP_REASON}`);

describe.skipIf(client === undefined)(
  `the real client reads a promoted snapshot (root catalog reused, revision renumbered)${client === undefined ? ` (${CLIENT_SKIP_REASON})` : ''}`,
  () => {
    let work: string;
    let dev: TestRepo;
    let prod: TestRepo;
    let server: { url: string; close(): Promise<void> };
    const trees: Record<string, string> = {};

    const tree = (name: string, change: (root: string) => void): string => {
      const root = path.join(work, `tree-${name}`);
      buildRichTree(root);
      change(root);
      trees[name] = root;
      return root;
    };

    async function promote(tag: string): Promise<string> {
      const source = await openVerifiedRepository(directorySource(dev.storage), {
        masterKeys: masterKeysOf(dev),
        fqrn: 'dev.example.org',
      });
      try {
        const rootHash = (await source.resolve(tag)).rootHash;
        await prod.publisher.importSnapshot({ source, rootHash, tag, rollingTags: ['HEAD'] });
        return rootHash;
      } finally {
        source.close();
      }
    }

    /** Mounts prod (the same cache each time: the client's breadcrumb carries over). */
    async function seenInProd(tag?: string): Promise<Map<string, string>> {
      const mount = await mountRepository(client!, {
        work,
        baseUrl: `${server.url}/prod.example.org`,
        fqrn: 'prod.example.org',
        publicKey: path.join(prod.keys, 'prod.example.org.pub'),
        name: `prod-${tag ?? 'trunk'}`,
        ...(tag !== undefined && { tag }),
      });
      try {
        return describeTree(mount.dir);
      } finally {
        mount.unmount();
      }
    }

    beforeAll(async () => {
      work = await makeTempDir();
      dev = await makeRepo({ base: path.join(work, 'repos'), fqrn: 'dev.example.org' });
      prod = await makeRepo({ base: path.join(work, 'repos'), fqrn: 'prod.example.org' });
      server = await serveInChild([dev.storage, prod.storage]);
    });

    afterAll(async () => {
      await server?.close();
      if (work !== undefined) await removeDir(work);
    });

    it('follows the newest revision across promotions above and below its own revision count', async () => {
      // prod runs ahead of dev: revision 5.
      for (let i = 0; i < 4; i++)
        await prod.publisher.publish({
          tree: tree(`prod${i}`, (root) =>
            writeFileSync(path.join(root, 'etc/motd'), `prod ${i}\n`),
          ),
          tag: `prod-${i}`,
        });
      expect(manifestLine(prod.storage, 'S')).toBe('5');
      expect(await seenInProd()).toEqual(describeTree(trees.prod3!));

      // A snapshot whose root catalog says revision 2 lands as prod's revision 6.
      await dev.publisher.publish({
        tree: tree('v1', (root) => writeFileSync(path.join(root, 'etc/motd'), 'v1\n')),
        tag: 'v1',
      });
      const v1 = await promote('v1');
      expect(manifestLine(prod.storage, 'C')).toBe(v1);
      expect(manifestLine(prod.storage, 'S')).toBe('6');
      expect(await seenInProd()).toEqual(describeTree(trees.v1!));
      expect(await seenInProd('HEAD')).toEqual(describeTree(trees.v1!));

      // dev runs ahead: its catalog says 9, prod takes 9 as its revision.
      for (let i = 2; i <= 8; i++)
        await dev.publisher.publish({
          tree: tree(`v${i}`, (root) => writeFileSync(path.join(root, 'etc/motd'), `v${i}\n`)),
          tag: `v${i}`,
        });
      const v8 = await promote('v8');
      expect(manifestLine(prod.storage, 'C')).toBe(v8);
      expect(manifestLine(prod.storage, 'S')).toBe('9');
      expect(await seenInProd()).toEqual(describeTree(trees.v8!));

      // prod's own publish after that (a hotfix) is newer again for the same client.
      await prod.publisher.publish({
        tree: tree('hotfix', (root) => writeFileSync(path.join(root, 'etc/motd'), 'hotfix\n')),
        tag: 'hotfix',
      });
      expect(manifestLine(prod.storage, 'S')).toBe('10');
      expect(await seenInProd()).toEqual(describeTree(trees.hotfix!));
      // Every tag still mounts as published, and the promoted one as the source shows it.
      expect(await seenInProd('v1')).toEqual(describeTree(trees.v1!));
      const devMount = await mountRepository(client!, {
        work,
        baseUrl: `${server.url}/dev.example.org`,
        fqrn: 'dev.example.org',
        publicKey: path.join(dev.keys, 'dev.example.org.pub'),
        name: 'dev-v8',
        tag: 'v8',
      });
      try {
        expect(await seenInProd('v8')).toEqual(describeTree(devMount.dir));
      } finally {
        devMount.unmount();
      }
      expect(await seenInProd('prod-0')).toEqual(describeTree(trees.prod0!));
    });

    it.skipIf(client?.swissknife === undefined)(
      'passes cvmfs_swissknife check for trunk and every tag of the target',
      async () => {
        for (const tag of [undefined, 'HEAD', 'v1', 'v8', 'prod-0', 'hotfix']) {
          const result = await swissknifeCheck(client!, {
            work,
            baseUrl: `${server.url}/prod.example.org`,
            fqrn: 'prod.example.org',
            publicKey: path.join(prod.keys, 'prod.example.org.pub'),
            ...(tag !== undefined && { tag }),
          });
          expect(result.output, `tag ${tag ?? 'trunk'}`).toContain('no problems found');
          expect(result.status).toBe(0);
        }
      },
    );
  },
);
