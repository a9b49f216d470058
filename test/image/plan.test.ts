import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planImages } from '../../src/image/plan.js';
import { loadPipeline } from '../../src/reconcile/load.js';
import { renderText } from '../../src/reconcile/render.js';
import { renderReconcile } from '../../src/cli/commands/reconcile.js';
import { tmpdir } from '../helpers/tmp.js';

const root = path.resolve(import.meta.dirname, '../..');

async function project(proxy: string, withImage = true): Promise<string> {
  const dir = await tmpdir();
  mkdirSync(path.join(dir, 'pipeline'));
  if (withImage)
    copyFileSync(path.join(root, 'pipeline/image.yaml'), path.join(dir, 'pipeline/image.yaml'));
  writeFileSync(
    path.join(dir, 'pipeline/pipeline.yaml'),
    [
      'repositories:',
      '  - { name: os.example.org, backend: embedded, storage: srv/os.example.org, keys: keys, url: "http://s1.example.org/cvmfs/os.example.org" }',
      'channels: { development: os.example.org }',
      'promotion: [development]',
      'pool: pool',
      `image: { proxy: "${proxy}", rootSource: squashfs, output: out }`,
      '',
    ].join('\n'),
  );
  return dir;
}

describe('the boot images in the plan', () => {
  it('plans a build when there is none, none when the last build has the same inputs, a build when they changed', async () => {
    const dir = await project('DIRECT');
    const plan = async () => planImages(dir, await loadPipeline(dir), ['development']);
    const [first] = await plan();
    expect(first).toMatchObject({
      channel: 'development',
      name: 'ucvm-development-2026.12-1',
      action: 'build',
      reason: 'no image of this version yet',
    });
    mkdirSync(path.join(dir, 'out'));
    writeFileSync(
      path.join(dir, 'out', `${first!.name}.json`),
      JSON.stringify({ identity: first!.identity }),
    );
    expect((await plan())[0]).toMatchObject({ action: 'none', reason: 'up to date' });

    // Another proxy goes on the kernel command line: a new image.
    writeFileSync(
      path.join(dir, 'pipeline/pipeline.yaml'),
      (await import('node:fs'))
        .readFileSync(path.join(dir, 'pipeline/pipeline.yaml'), 'utf8')
        .replace('DIRECT', 'http://squid:3128'),
    );
    const [changed] = await plan();
    expect(changed).toMatchObject({
      action: 'build',
      reason: 'its inputs changed since the last build',
    });
    expect(changed!.identity).not.toBe(first!.identity);
  });

  it('has nothing to say for a project without pipeline/image.yaml', async () => {
    const dir = await project('DIRECT', false);
    expect(await planImages(dir, await loadPipeline(dir), ['development'])).toEqual([]);
  });

  it('shows an image to build as a change of the plan', () => {
    const text = renderText({
      plans: [],
      drift: [],
      warnings: [],
      images: [
        {
          channel: 'testing',
          name: 'ucvm-testing-2026.12-1',
          action: 'build',
          reason: 'no image of this version yet',
          identity: 'x',
        },
      ],
    });
    expect(text).toBe(
      'image testing      build ucvm-testing-2026.12-1 (no image of this version yet)\nthe repositories match the manifests; boot images to build',
    );
  });

  it('reconcile reports what it built, and an image that needs nothing once', () => {
    const text = renderReconcile({
      outcomes: [],
      drift: [],
      warnings: [],
      dryRun: false,
      images: [
        {
          channel: 'development',
          name: 'ucvm-development-2026.12-1',
          status: 'unchanged',
          detail: 'up to date',
        },
        {
          channel: 'testing',
          name: 'ucvm-testing-2026.12-1',
          status: 'built',
          detail: 'its inputs changed since the last build: out/ucvm-testing-2026.12-1.iso',
        },
      ],
    });
    expect(text.split('\n').slice(0, 2)).toEqual([
      'image development  ucvm-development-2026.12-1: up to date',
      'image testing      ucvm-testing-2026.12-1: built (its inputs changed since the last build: out/ucvm-testing-2026.12-1.iso)',
    ]);
  });
});
