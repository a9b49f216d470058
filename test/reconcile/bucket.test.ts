import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey } from '../../src/keys/index.js';
import { openVerifiedRepository } from '../../src/reader/open.js';
import { httpSource } from '../../src/reader/source.js';
import { verifyRepository } from '../../src/reader/verify.js';
import { S3_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import {
  channels,
  commitAll,
  fqrns,
  git,
  makeProject,
  reconcileArgs,
  startArchive,
  tagRoot,
  ucvmAsync,
  type Archive,
} from './fixtures.js';

let archive: Archive;
let s3: S3TestServer;
let base: string;
let root: string;
let keys: string;
const BUCKET = 'stratum0';
const env = {
  PROD_S3_KEY: S3_CREDENTIALS.accessKeyId,
  PROD_S3_SECRET: S3_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** The pipeline of the fixtures, with production's repository in a bucket. */
function bucketPipeline(): string {
  const repositories = channels
    .map((channel) =>
      channel === 'production'
        ? [
            `  - name: ${fqrns[channel]}`,
            '    backend: embedded',
            `    storage: s3://${BUCKET}/cvmfs/${fqrns[channel]}`,
            '    s3:',
            `      endpoint: ${s3.endpoint}`,
            '      pathStyle: true',
            '      credentials: { accessKeyId: env:PROD_S3_KEY, secretAccessKey: env:PROD_S3_SECRET }',
            `    keys: ${keys}`,
            '',
          ].join('\n')
        : `  - name: ${fqrns[channel]}\n    backend: embedded\n    storage: srv/${fqrns[channel]}\n    keys: ${keys}\n`,
    )
    .join('');
  return `repositories:\n${repositories}channels:\n${channels
    .map((channel) => `  ${channel}: ${fqrns[channel]}\n`)
    .join('')}promotion: [development, testing, production]\npool: pool\n`;
}

async function reconcile(...args: string[]) {
  return ucvmAsync(reconcileArgs(root, archive, base, ...args), env);
}

beforeAll(async () => {
  archive = await startArchive();
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  base = await makeTempDir('ucvm-bucket-');
  ({ root, keys } = makeProject(base, {
    development: ['1.0.0', '1.0-1'],
    testing: ['1.0.0', '1.0-1'],
    production: ['1.0.0', '1.0-1'],
  }));
  writeFileSync(path.join(root, 'pipeline', 'pipeline.yaml'), bucketPipeline());
  commitAll(root, 'production in a bucket');
}, 60_000);

afterAll(async () => {
  await archive.close();
  await s3?.close();
  await removeDir(base);
});

describe('ucvm reconcile with a channel in an S3 bucket', () => {
  it('validates the pipeline, and refuses s3 settings without a bucket storage and secrets in the file', async () => {
    const valid = await ucvmAsync(['validate', '--root', root], env);
    expect(valid.status, valid.stderr).toBe(0);
    const refusedWith = async (text: string) => {
      writeFileSync(path.join(root, 'pipeline', 'pipeline.yaml'), text);
      const result = await ucvmAsync(['validate', '--root', root], env);
      writeFileSync(path.join(root, 'pipeline', 'pipeline.yaml'), bucketPipeline());
      expect(result.status).toBe(2);
      return `${result.stdout}${result.stderr}`;
    };
    const misplaced = await refusedWith(
      bucketPipeline().replace(
        'storage: srv/dev.rc.example.org',
        'storage: srv/dev.rc.example.org\n    s3: { pathStyle: true }',
      ),
    );
    expect(misplaced).toMatch(/pipeline\.yaml:\d+:\d+.*s3 applies only to a storage in a bucket/);
    const secret = await refusedWith(
      bucketPipeline().replace(
        'secretAccessKey: env:PROD_S3_SECRET',
        'secretAccessKey: hunter2hunter2',
      ),
    );
    expect(secret).toMatch(/pipeline\.yaml:\d+:\d+.*expected env:VAR/);
    expect(secret).not.toContain('hunter2');
  });

  it('creates the bucket repository and promotes into it: the same root hash as the directory it came from', async () => {
    const first = await reconcile('--init');
    expect(first.status, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as {
      outcomes: Array<{ channel: string; action: string; status: string }>;
    };
    expect(report.outcomes.map((o) => `${o.channel}:${o.action}:${o.status}`)).toEqual([
      'development:publish:done',
      'testing:promote:done',
      'production:promote:done',
    ]);
    const url = `${s3.endpoint}/${BUCKET}/cvmfs/${fqrns.production}`;
    const masterKeys = [await loadPublicKey(path.join(keys, `${fqrns.production}.pub`))];
    const production = await openVerifiedRepository(httpSource(url), {
      masterKeys,
      fqrn: fqrns.production,
    });
    const tags = await production.tags();
    const version = tags.find((tag) => tag.name === 'cernvm-system-1.0.0');
    expect(version?.hashHex).toBe(await tagRoot(root, keys, 'testing', 'cernvm-system-1.0.0'));
    expect(tags.find((tag) => tag.name === 'HEAD')?.hashHex).toBe(version?.hashHex);
    const verified = await verifyRepository(production, { masterKeys, now: new Date() });
    expect(verified.problems).toEqual([]);
    production.close();
  });

  it('plans nothing more, reading the bucket with the public key, and a second reconcile is a no-op', async () => {
    const planned = await ucvmAsync(['plan', '--root', root, '--json', '--detailed-exitcode'], env);
    expect(planned.status, planned.stderr).toBe(0);
    const again = await reconcile();
    expect(again.status, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as { outcomes: Array<{ status: string }> };
    expect(report.outcomes.every((o) => o.status === 'unchanged' || o.status === 'none')).toBe(
      true,
    );
    expect(git(root, 'status', '--porcelain')).toBe('');
  });

  it('says which variable is missing when the credentials are not set', async () => {
    const result = await ucvmAsync(['plan', '--root', root], {
      ...env,
      PROD_S3_SECRET: '',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      's3.credentials.secretAccessKey comes from $PROD_S3_SECRET, which is not set',
    );
  });
});
