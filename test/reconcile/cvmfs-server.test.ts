import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CvmfsServerPublisher } from '../../src/publisher/cvmfs-server/index.js';
import { decodeProvenance } from '../../src/reconcile/provenance.js';
import { cvmfsServerSkipReason, makeServerRepository } from '../helpers/cvmfs-server.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import {
  channels,
  commitAll,
  fqrns,
  makeProject,
  reconcileArgs,
  startArchive,
  tagRoot,
  ucvmAsync,
  type Archive,
} from './fixtures.js';

const skip = cvmfsServerSkipReason();
if (skip !== undefined) console.log(`test/reconcile/cvmfs-server: skipped: ${skip}`);

/** testing on a real stratum 0 (cvmfs_server), development and production on the embedded backend. */
describe.skipIf(skip !== undefined)('ucvm reconcile with a channel on a real stratum 0', () => {
  let archive: Archive;
  let base: string;
  let root: string;
  let keys: string;
  let server: ReturnType<typeof makeServerRepository>;

  beforeAll(async () => {
    archive = await startArchive();
    base = await makeTempDir('ucvm-reconcile-server-');
    ({ root, keys } = makeProject(base, {
      development: ['1.0.0', '1.0-1'],
      testing: ['1.0.0', '1.0-1'],
      production: ['1.0.0', '1.0-1'],
    }));
    server = makeServerRepository(fqrns.testing, { CVMFS_INCLUDE_XATTRS: 'true' });
    // The pipeline reads it with its public key, as plan does for every channel.
    const serverKeys = path.join(base, 'server-keys');
    mkdirSync(serverKeys);
    copyFileSync(
      `/etc/cvmfs/keys/${fqrns.testing}.pub`,
      path.join(serverKeys, `${fqrns.testing}.pub`),
    );
    const repositories = channels
      .map((channel) =>
        channel === 'testing'
          ? `  - name: ${fqrns[channel]}\n    backend: cvmfs-server\n    keys: ${serverKeys}\n    url: http://localhost/cvmfs/${fqrns[channel]}\n`
          : `  - name: ${fqrns[channel]}\n    backend: embedded\n    storage: srv/${fqrns[channel]}\n    keys: ${keys}\n`,
      )
      .join('');
    writeFileSync(
      path.join(root, 'pipeline', 'pipeline.yaml'),
      `repositories:\n${repositories}channels:\n${channels.map((c) => `  ${c}: ${fqrns[c]}\n`).join('')}promotion: [development, testing, production]\npool: pool\n`,
    );
    commitAll(root, 'testing on a stratum 0');
  }, 120_000);
  afterAll(async () => {
    server?.remove();
    await archive?.close();
    await removeDir(base);
  });

  it('publishes development, promotes into the stratum 0 by building again, and on into production', async () => {
    const result = await ucvmAsync(reconcileArgs(root, archive, base, '--init'));
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      outcomes: Array<{ channel: string; action: string; status: string; rootHash?: string }>;
    };
    expect(report.outcomes.map((o) => `${o.channel}:${o.action}:${o.status}`)).toEqual([
      'development:publish:done',
      'testing:promote:done',
      'production:promote:done',
    ]);
    const tags = await new CvmfsServerPublisher({ fqrn: fqrns.testing }).tags();
    const version = tags.find((tag) => tag.name === 'cernvm-system-1.0.0')!;
    expect(tags.find((tag) => tag.name === 'HEAD')?.hashHex).toBe(version.hashHex);
    const provenance = decodeProvenance(version.description);
    expect(provenance?.from).toEqual({ repository: fqrns.development, tag: 'cernvm-system-1.0.0' });
    // Production copied testing's snapshot from the stratum 0 object by object.
    expect(await tagRoot(root, keys, 'production', 'cernvm-system-1.0.0')).toBe(version.hashHex);
  }, 300_000);

  it('plans nothing more, and a second reconcile is a no-op', async () => {
    const planned = await ucvmAsync(['plan', '--root', root, '--json', '--detailed-exitcode']);
    expect(planned.status, `${planned.stdout}${planned.stderr}`).toBe(0);
    const again = await ucvmAsync(reconcileArgs(root, archive, base));
    expect(again.status, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as { outcomes: Array<{ status: string }> };
    expect(report.outcomes.every((o) => o.status === 'unchanged' || o.status === 'none')).toBe(
      true,
    );
  }, 120_000);
});
