import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARALLEL_PART } from '../../src/cvmfs/compression.js';
import { serveInChild } from '../helpers/cli.js';
import {
  CLIENT_SKIP_REASON,
  findCvmfsClient,
  mountRepository,
  swissknifeCheck,
} from '../helpers/cvmfs-client.js';
import { describeTree } from '../helpers/describe-tree.js';
import { makeRepo, type TestRepo } from '../helpers/repo.js';
import { buildRichTree } from '../helpers/rich-tree.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const client = findCvmfsClient();

const SWISSKNIFE_NOTE =
  client !== undefined && client.swissknife === undefined
    ? '(skipped: cvmfs_swissknife is not installed beside cvmfs2) '
    : '';
if (client === undefined) console.log(`test/client: ${CLIENT_SKIP_REASON}`);
else if (client.swissknife === undefined)
  console.log(
    'test/client: cvmfs_swissknife is not installed beside cvmfs2; its checks are skipped',
  );

describe.skipIf(client === undefined)(
  `the real CernVM-FS client mounts what we publish${client === undefined ? ` (${CLIENT_SKIP_REASON})` : ''}`,
  () => {
    let work: string;
    let repo: TestRepo;
    let server: { url: string; close(): Promise<void> };
    let treeOne: string;
    let treeTwo: string;
    let baseUrl: string;
    let publicKey: string;
    const fqrn = 'test.example.org';

    beforeAll(async () => {
      work = await makeTempDir();
      treeOne = path.join(work, 'tree-one');
      buildRichTree(treeOne);
      treeTwo = path.join(work, 'tree-two');
      execFileSync('cp', ['-a', treeOne, treeTwo]);
      writeFileSync(path.join(treeTwo, 'etc/motd'), 'second version\n');
      writeFileSync(path.join(treeTwo, 'sw/v1/bin/new-tool'), 'new\n');
      repo = await makeRepo({
        base: path.join(work, 'repo'),
        chunking: { minSize: 256 * 1024, averageSize: 512 * 1024, maxSize: 1024 * 1024 },
      });
      await repo.publisher.publish({ tree: treeOne, tag: 'one' });
      await repo.publisher.publish({ tree: treeTwo, tag: 'two' });
      await repo.publisher.tag({ name: 'HEAD', target: 'one' });
      server = await serveInChild([repo.storage]);
      baseUrl = `${server.url}/${fqrn}`;
      publicKey = path.join(repo.keys, `${fqrn}.pub`);
    });

    afterAll(async () => {
      await server?.close();
      if (work !== undefined) await removeDir(work);
    });

    it.each([
      ['one', 'one'],
      ['two', 'two'],
      ['HEAD', 'one'],
      [undefined, 'two'],
    ])('mounts tag %s and shows exactly the published tree', async (tag, expected) => {
      const mount = await mountRepository(client!, {
        work,
        baseUrl,
        fqrn,
        publicKey,
        name: `${tag ?? 'trunk'}`,
        ...(tag !== undefined && { tag }),
      });
      try {
        const seen = describeTree(mount.dir);
        const source = describeTree(expected === 'one' ? treeOne : treeTwo);
        expect(seen).toEqual(source);
        expect(lstatSync(path.join(mount.dir, 'links/a')).ino).toBe(
          lstatSync(path.join(mount.dir, 'links/b')).ino,
        );
        expect(
          execFileSync('getfattr', ['--only-values', '-n', 'user.root_hash', mount.dir]).toString(),
        ).toMatch(/^[0-9a-f]{40}$/);
      } finally {
        mount.unmount();
      }
    });

    it('mounts a freshly initialized, empty repository', async () => {
      const empty = await makeRepo({ base: path.join(work, 'empty') });
      const emptyServer = await serveInChild([empty.storage]);
      try {
        const mount = await mountRepository(client!, {
          work,
          baseUrl: `${emptyServer.url}/${fqrn}`,
          fqrn,
          publicKey: path.join(empty.keys, `${fqrn}.pub`),
          name: 'empty',
        });
        try {
          expect(readdirSync(mount.dir)).toEqual([]);
          expect(
            execFileSync('getfattr', [
              '--only-values',
              '-n',
              'user.revision',
              mount.dir,
            ]).toString(),
          ).toBe('1');
        } finally {
          mount.unmount();
        }
      } finally {
        await emptyServer.close();
      }
    });

    it.skipIf(client?.swissknife === undefined)(
      SWISSKNIFE_NOTE + 'passes cvmfs_swissknife check for trunk and every tag',
      async () => {
        for (const tag of [undefined, 'one', 'two', 'HEAD', 'trunk-previous']) {
          const result = await swissknifeCheck(client!, {
            work,
            baseUrl,
            fqrn,
            publicKey,
            ...(tag !== undefined && { tag }),
          });
          expect(result.output, `tag ${tag ?? 'trunk'}`).toContain('no problems found');
          expect(result.status).toBe(0);
        }
      },
    );

    it.skipIf(client?.swissknife === undefined)(
      SWISSKNIFE_NOTE + 'passes the check with automatically split catalogs',
      async () => {
        const split = await makeRepo({
          base: path.join(work, 'split'),
          partition: { maxEntries: 12, minEntries: 3 },
        });
        await split.publisher.publish({ tree: treeOne, tag: 'split' });
        const splitServer = await serveInChild([split.storage]);
        try {
          const url = `${splitServer.url}/${fqrn}`;
          const key = path.join(split.keys, `${fqrn}.pub`);
          const result = await swissknifeCheck(client!, {
            work,
            baseUrl: url,
            fqrn,
            publicKey: key,
          });
          expect(result.output).toContain('no problems found');
          const mount = await mountRepository(client!, {
            work,
            baseUrl: url,
            fqrn,
            publicKey: key,
            name: 'split',
            tag: 'split',
          });
          try {
            const seen = describeTree(mount.dir);
            expect(seen.get('/sw/v1/lib/y')).toBe(describeTree(treeOne).get('/sw/v1/lib/y'));
            expect(seen.size).toBeGreaterThanOrEqual(describeTree(treeOne).size);
          } finally {
            mount.unmount();
          }
        } finally {
          await splitServer.close();
        }
      },
    );

    it.skipIf(client?.swissknife === undefined)(
      SWISSKNIFE_NOTE + 'mounts and passes the check after catalogs were patched in place',
      async () => {
        const tree = path.join(work, 'tree-patched');
        execFileSync('cp', ['-a', treeOne, tree]);
        // Enough rows that a few changes are patched rather than rewritten.
        for (const dir of ['filler', 'sw/v1/filler']) {
          mkdirSync(path.join(tree, dir), { recursive: true });
          for (let i = 0; i < 60; i++) writeFileSync(path.join(tree, dir, `f${i}`), `${i}\n`);
        }
        const patched = await makeRepo({ base: path.join(work, 'patched') });
        await patched.publisher.publish({ tree, tag: 'before' });
        writeFileSync(path.join(tree, 'etc/motd'), 'patched\n');
        rmSync(path.join(tree, 'filler/f7'));
        mkdirSync(path.join(tree, 'sw/v1/added'));
        writeFileSync(path.join(tree, 'sw/v1/added/file'), 'added\n');
        chmodSync(path.join(tree, 'sw/v1/filler/f3'), 0o600);
        const result = await patched.publisher.publish({ tree, tag: 'after' });
        expect(result.stats.catalogsPatched).toBeGreaterThanOrEqual(2);
        const patchedServer = await serveInChild([patched.storage]);
        try {
          const url = `${patchedServer.url}/${fqrn}`;
          const key = path.join(patched.keys, `${fqrn}.pub`);
          for (const tag of ['before', 'after']) {
            const check = await swissknifeCheck(client!, {
              work,
              baseUrl: url,
              fqrn,
              publicKey: key,
              tag,
            });
            expect(check.output, tag).toContain('no problems found');
          }
          const mount = await mountRepository(client!, {
            work,
            baseUrl: url,
            fqrn,
            publicKey: key,
            name: 'patched',
          });
          try {
            expect(describeTree(mount.dir)).toEqual(describeTree(tree));
          } finally {
            mount.unmount();
          }
        } finally {
          await patchedServer.close();
        }
      },
    );

    it.skipIf(client?.swissknife === undefined)(
      SWISSKNIFE_NOTE + 'mounts and passes the check with a catalog deflated in parts',
      async () => {
        const tree = path.join(work, 'tree-large');
        mkdirSync(path.join(tree, 'many'), { recursive: true });
        writeFileSync(path.join(tree, 'target'), 'target\n');
        const names: string[] = [];
        for (let i = 0; i < 7_000; i++) {
          names.push(`link-${i}`);
          symlinkSync(`../target-${i}`, path.join(tree, 'many', `link-${i}`));
        }
        const large = await makeRepo({ base: path.join(work, 'large') });
        await large.publisher.publish({ tree, tag: 'large' });
        const catalogs = readdirSync(path.join(large.storage, 'data'), { recursive: true })
          .map(String)
          .filter((name) => name.endsWith('C'))
          .map((name) => inflateSync(readFileSync(path.join(large.storage, 'data', name))));
        // More than one part (see compressParallel).
        expect(Math.max(...catalogs.map((bytes) => bytes.length))).toBeGreaterThan(PARALLEL_PART);
        const largeServer = await serveInChild([large.storage]);
        try {
          const url = `${largeServer.url}/${fqrn}`;
          const key = path.join(large.keys, `${fqrn}.pub`);
          const check = await swissknifeCheck(client!, {
            work,
            baseUrl: url,
            fqrn,
            publicKey: key,
            tag: 'large',
          });
          expect(check.output).toContain('no problems found');
          const mount = await mountRepository(client!, {
            work,
            baseUrl: url,
            fqrn,
            publicKey: key,
            name: 'large',
          });
          try {
            expect(readdirSync(path.join(mount.dir, 'many')).sort()).toEqual(names.sort());
            for (const i of [0, 3_500, 6_999])
              expect(readlinkSync(path.join(mount.dir, 'many', `link-${i}`))).toBe(
                `../target-${i}`,
              );
            expect(readFileSync(path.join(mount.dir, 'target'), 'utf8')).toBe('target\n');
          } finally {
            mount.unmount();
          }
        } finally {
          await largeServer.close();
        }
      },
    );
  },
);
