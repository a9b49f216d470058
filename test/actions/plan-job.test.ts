import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Channel } from '../../src/manifest/schema.js';
import { serveInChild } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';
import { fqrns, project } from './fixture.js';
import { runStep, runnerFor } from './run-step.js';
import { readWorkflow, stepNamed } from './workflow-file.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const job = readWorkflow('plan.yml').jobs.plan!;
const RUN_URL = 'https://github.example/o/r/actions/runs/7';

/**
 * The plan job of plan.yml after its checkout and build, step by step as a runner runs them:
 * a pull request's work tree (with origin/main), ucvm built into it, the repositories served
 * over HTTP and named by url and `keys: env:VAR` in pipeline.yaml, their public keys in
 * public-keys/.
 */
async function pullRequest(change: (p: Awaited<ReturnType<typeof project>>) => void) {
  const p = await project({ development: '1.2.0', testing: '1.1.0', production: '1.0.0' });
  for (const channel of ['development', 'testing', 'production'] as const) await p.publish(channel);
  const server = await serveInChild(Object.values(fqrns).map((f) => path.join(p.root, 'srv', f)));
  const variable = (channel: Channel) =>
    channel === 'production' ? 'UCVM_PROD_KEYS_DIR' : 'UCVM_KEYS_DIR';
  writeFileSync(
    path.join(p.root, 'pipeline', 'pipeline.yaml'),
    `repositories:\n${(Object.entries(fqrns) as [Channel, string][])
      .map(
        ([channel, fqrn]) =>
          `  - name: ${fqrn}\n    backend: embedded\n    storage: srv/${fqrn}\n    keys: env:${variable(channel)}\n    url: ${server.url}/${fqrn}\n`,
      )
      .join('')}channels:\n${Object.entries(fqrns)
      .map(([c, f]) => `  ${c}: ${f}\n`)
      .join('')}pool: pool\n`,
  );
  mkdirSync(path.join(p.root, 'public-keys'));
  for (const fqrn of Object.values(fqrns))
    copyFileSync(path.join(p.keys, `${fqrn}.pub`), path.join(p.root, 'public-keys', `${fqrn}.pub`));
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', p.root, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.invalid',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.invalid',
      },
    });
  git('init', '-q', '-b', 'main');
  writeFileSync(path.join(p.root, '.gitignore'), 'srv/\nkeys/\nspool/\ndist\n');
  git('add', '.');
  git('commit', '-q', '-m', 'pipeline');
  const origin = path.join(await tmpdir(), 'origin.git');
  git('init', '-q', '--bare', origin);
  git('remote', 'add', 'origin', origin);
  git('push', '-q', 'origin', 'main');
  git('fetch', '-q', 'origin');
  git('switch', '-q', '-c', 'change');
  change(p);
  git('commit', '-q', '-am', 'the change');
  // What `npm ci && npm run build` left in the work tree.
  symlinkSync(path.join(REPO_ROOT, 'dist'), path.join(p.root, 'dist'));
  const runner = await runnerFor(p.root);
  const values = {
    BASE_REF: 'main',
    PR_NUMBER: '42',
    HEAD_SHA: git('rev-parse', 'HEAD').trim(),
    RUN_URL,
  };
  /** Runs the named step with what earlier steps exported and the step outputs so far. */
  const outputs: Record<string, Record<string, string>> = {};
  const run = (name: string) => {
    const step = stepNamed(job, name);
    runner.nextStep();
    const result = runStep(
      step,
      runner,
      {
        ...values,
        VALIDATE: outputs.validate?.outcome ?? '',
        STATUS: outputs.plan?.status ?? '',
      },
      runner.env(),
    );
    if (step.id !== undefined)
      outputs[step.id] = {
        ...runner.outputs(),
        outcome: result.status === 0 ? 'success' : 'failure',
      };
    return result;
  };
  return { ...p, runner, run, outputs, close: () => server.close() };
}

const comment = (runner: { RUNNER_TEMP: string }) =>
  readFileSync(path.join(runner.RUNNER_TEMP, 'ucvm-plan', 'comment.md'), 'utf8');

describe('plan.yml, its steps after checkout and build', () => {
  it('plans a pull request that changes development: summary, outputs, comment, a green verdict', async () => {
    const pr = await pullRequest((p) => p.write('development', '1.3.0'));
    try {
      expect(pr.run('Public keys (committed, public only)').status).toBe(0);
      expect(pr.runner.env()).toEqual({
        UCVM_KEYS_DIR: path.join(pr.root, 'public-keys'),
        UCVM_PROD_KEYS_DIR: path.join(pr.root, 'public-keys'),
      });
      const validate = pr.run('Validate');
      expect(validate.status, validate.stdout + validate.stderr).toBe(0);
      const plan = pr.run('Plan');
      expect(plan.status, plan.stderr).toBe(0);
      // The step's own output, and ucvm plan's (through @actions/core).
      expect(pr.outputs.plan).toEqual({
        status: '3',
        changes: 'true',
        refusals: 'false',
        outcome: 'success',
      });
      // Only the channel whose manifest changed since origin/main, read over HTTP.
      const summary = pr.runner.summary();
      expect(summary).toMatch(/^### ucvm plan\n/);
      expect(summary).toContain(
        '| development | dev.actions.example.org | 1.2.0 | 1.3.0 | publish cernvm-system-1.3.0 |',
      );
      expect(summary).not.toMatch(/\| (testing|production) \|/);
      expect(pr.run('Comment text').status).toBe(0);
      expect(comment(pr.runner)).toBe(
        `${summary}\nMerging this pull request changes the repositories above (\`reconcile\` runs on the default branch).\n`,
      );
      expect(pr.run('Verdict').status).toBe(0);
    } finally {
      await pr.close();
    }
  });

  it('fails the job on a refusal, and says why in the comment', async () => {
    // Published 1.2.0 with other content: VERSION_CONFLICT.
    const pr = await pullRequest((p) =>
      p.write('development', '1.2.0', 'Changed after publishing\n'),
    );
    try {
      pr.run('Public keys (committed, public only)');
      expect(pr.run('Validate').status).toBe(0);
      pr.run('Plan');
      expect(pr.outputs.plan).toMatchObject({ status: '2', refusals: 'true' });
      pr.run('Comment text');
      expect(comment(pr.runner)).toContain('`VERSION_CONFLICT`');
      expect(comment(pr.runner)).toContain('**Refused**: this change cannot be reconciled');
      const verdict = pr.run('Verdict');
      expect(verdict.status).toBe(1);
      expect(verdict.stdout).toContain('::error title=ucvm plan::refused');
    } finally {
      await pr.close();
    }
  });

  it('does not plan manifests that do not validate, and annotates them', async () => {
    const pr = await pullRequest((p) =>
      writeFileSync(
        path.join(p.root, 'manifests', 'testing.yaml'),
        readFileSync(path.join(p.root, 'manifests', 'testing.yaml'), 'utf8').replace(
          'bash: 5.2.15-2+b2',
          'bash: "^5.2"',
        ),
      ),
    );
    try {
      pr.run('Public keys (committed, public only)');
      const validate = pr.run('Validate');
      expect(validate.status).toBe(2);
      expect(validate.stdout).toContain(
        '::error file=manifests/testing.yaml,line=10,col=9,title=packages.bash::',
      );
      pr.run('Comment text');
      expect(comment(pr.runner)).toContain('**`ucvm validate` found errors**');
      expect(pr.run('Verdict').status).toBe(1);
    } finally {
      await pr.close();
    }
  });
});
