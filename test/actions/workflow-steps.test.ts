import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/keys/index.js';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';
import { readWorkflow, stepNamed } from './workflow-file.js';
import { hasCommand, runStep, runnerFor, type Runner } from './run-step.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const reconcile = readWorkflow('reconcile.yml');
const keysStep = (job: string) =>
  stepNamed(reconcile.jobs[job]!, 'Signing keys from the secret (0600, masked)');
const removeStep = (job: string) => stepNamed(reconcile.jobs[job]!, 'Remove the keys');

const DEV = 'cernvm-dev.example.org';
const TESTING = 'cernvm-testing.example.org';

/** Keys made by ucvm, their public halves committed in the workspace's public-keys/. */
async function keysAndWorkspace() {
  const source = await tmpdir();
  for (const fqrn of [DEV, TESTING]) await createKeys(source, fqrn);
  const runner = await runnerFor();
  mkdirSync(path.join(runner.GITHUB_WORKSPACE, 'public-keys'));
  for (const fqrn of [DEV, TESTING])
    copyFileSync(
      path.join(source, `${fqrn}.pub`),
      path.join(runner.GITHUB_WORKSPACE, 'public-keys', `${fqrn}.pub`),
    );
  return { source, runner };
}

/** What `tar -C dir -cz files | base64 -w0` makes, the documented form of the secret. */
function secretOf(dir: string, files: string[]): string {
  return execFileSync('tar', ['-C', dir, '-cz', ...files]).toString('base64');
}

function pemBodyLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('-----'));
}

describe('reconcile.yml: the keys from a secret', () => {
  it('writes them 0600 in a 0700 directory, masks them, exports the variables, removes them', async () => {
    const { source, runner } = await keysAndWorkspace();
    // The repository exists (made once, by a person, with the master key).
    const storage = path.join(await tmpdir(), DEV);
    await createEmbeddedPublisher({
      storage,
      keysDir: source,
      spoolDir: path.join(runner.RUNNER_TEMP, 'spool'),
    }).init({ whitelistDays: 30 });
    // The secret carries what publishing needs, not the master key nor the public key.
    const secret = secretOf(source, [
      `${DEV}.key`,
      `${DEV}.crt`,
      `${TESTING}.key`,
      `${TESTING}.crt`,
    ]);

    const result = runStep(keysStep('pre-production'), runner, { KEYS_TGZ: secret });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const dir = path.join(runner.RUNNER_TEMP, 'ucvm-keys', 'UCVM_KEYS_DIR');
    expect(runner.env()).toEqual({
      UCVM_KEYS_DIR: dir,
      UCVM_PROD_KEYS_DIR: path.join(runner.GITHUB_WORKSPACE, 'public-keys'),
    });
    expect(readdirSync(dir).sort()).toEqual(
      [DEV, TESTING].flatMap((f) => [`${f}.crt`, `${f}.key`, `${f}.pub`]).sort(),
    );
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(dir))
      expect(statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);

    // Every line of the private keys that is long enough to mask is masked; nothing else of
    // them is printed.
    const masked = result.stdout
      .split('\n')
      .filter((line) => line.startsWith('::add-mask::'))
      .map((line) => line.slice('::add-mask::'.length));
    for (const fqrn of [DEV, TESTING]) {
      const lines = pemBodyLines(path.join(source, `${fqrn}.key`));
      expect(masked).toEqual(expect.arrayContaining(lines.filter((line) => line.length >= 8)));
      for (const line of lines)
        expect(result.stdout.replaceAll(`::add-mask::${line}`, '')).not.toContain(line);
    }

    // ucvm accepts the directory as it is: it publishes with it.
    const tree = await tmpdir({ 'etc/motd': 'hello\n' });
    const publish = ucvm(['repo', 'publish', storage, tree, '--tag', 'first', '--keys', dir]);
    expect(publish.status, publish.stderr).toBe(0);

    const removed = runStep(removeStep('pre-production'), runner);
    expect(removed.status).toBe(0);
    expect(existsSync(path.join(runner.RUNNER_TEMP, 'ucvm-keys'))).toBe(false);
  });

  it('production writes its own variable and points the other at the public keys', async () => {
    const { source, runner } = await keysAndWorkspace();
    const secret = secretOf(source, [`${DEV}.key`, `${DEV}.crt`]);
    const result = runStep(keysStep('production'), runner, { KEYS_TGZ: secret });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(runner.env()).toEqual({
      UCVM_PROD_KEYS_DIR: path.join(runner.RUNNER_TEMP, 'ucvm-keys', 'UCVM_PROD_KEYS_DIR'),
      UCVM_KEYS_DIR: path.join(runner.GITHUB_WORKSPACE, 'public-keys'),
    });
  });

  it('refuses a missing secret, unexpected files, links, and a public key other than the committed one', async () => {
    const { source, runner } = await keysAndWorkspace();
    const cases: Array<[string, string]> = [['', 'the secret UCVM_KEYS_TGZ is not set']];
    writeFileSync(path.join(source, 'notes.txt'), 'x\n');
    cases.push([secretOf(source, [`${DEV}.key`, 'notes.txt']), 'UCVM_KEYS_TGZ holds notes.txt']);
    symlinkSync('/etc/hostname', path.join(source, 'linked.key'));
    cases.push([secretOf(source, ['linked.key']), 'linked.key is not a regular file']);
    const other = await tmpdir();
    await createKeys(other, DEV);
    cases.push([
      secretOf(other, [`${DEV}.key`, `${DEV}.crt`, `${DEV}.pub`]),
      `public-keys/${DEV}.pub,title=ucvm keys::differs from the public key in UCVM_KEYS_TGZ`,
    ]);
    for (const [secret, message] of cases) {
      const result = runStep(keysStep('pre-production'), runner, { KEYS_TGZ: secret });
      expect(result.status, message).toBe(1);
      expect(result.stdout).toContain(message);
      expect(runner.env()).toEqual({});
    }
  });
});

describe('reconcile.yml: storage outside the checkout', () => {
  async function guard(pipeline: string) {
    const runner = await runnerFor();
    mkdirSync(path.join(runner.GITHUB_WORKSPACE, 'pipeline'));
    writeFileSync(path.join(runner.GITHUB_WORKSPACE, 'pipeline', 'pipeline.yaml'), pipeline);
    symlinkSync(
      path.join(REPO_ROOT, 'node_modules'),
      path.join(runner.GITHUB_WORKSPACE, 'node_modules'),
    );
    return runStep(stepNamed(reconcile.jobs.production!, 'Storage outside the checkout'), runner);
  }

  it("refuses the demo pipeline's storage under srv/ and its pool, which checkout would delete", async () => {
    const result = await guard(
      readFileSync(path.join(REPO_ROOT, 'pipeline', 'pipeline.yaml'), 'utf8'),
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      '::error file=pipeline/pipeline.yaml,title=storage inside the checkout::srv/cernvm-dev.example.org, srv/cernvm-testing.example.org, srv/cernvm-prod.example.org, pool would be removed',
    );
  });

  it('accepts storage and pool elsewhere on the runner', async () => {
    const demo = readFileSync(path.join(REPO_ROOT, 'pipeline', 'pipeline.yaml'), 'utf8');
    const result = await guard(
      demo
        .replaceAll('storage: srv/', 'storage: /srv/cvmfs/')
        .replace('pool: pool', 'pool: ../pool'),
    );
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toBe('');
  });

  it('is the same step in both jobs', () => {
    expect(stepNamed(reconcile.jobs['pre-production']!, 'Storage outside the checkout').run).toBe(
      stepNamed(reconcile.jobs.production!, 'Storage outside the checkout').run,
    );
    expect(keysStep('pre-production').run).toBe(keysStep('production').run);
  });
});

describe('plan.yml: the comment text and the verdict', () => {
  const job = readWorkflow('plan.yml').jobs.plan!;
  const comment = stepNamed(job, 'Comment text');
  const verdict = stepNamed(job, 'Verdict');

  it('fails the job for a refusal or an error, not for changes pending', async () => {
    const runner = await runnerFor();
    const cases: Array<[string, string, number]> = [
      ['success', '0', 0],
      ['success', '3', 0],
      ['success', '2', 1],
      ['success', '1', 1],
      ['success', '70', 1],
      ['success', '', 1],
      ['failure', '', 1],
    ];
    for (const [validate, status, expected] of cases)
      expect(
        runStep(verdict, runner, { VALIDATE: validate, STATUS: status }).status,
        `${validate} ${status}`,
      ).toBe(expected);
  });

  async function commentFor(values: Record<string, string>, plan?: string) {
    const runner = await runnerFor();
    if (plan !== undefined) {
      mkdirSync(path.join(runner.RUNNER_TEMP, 'ucvm-plan'));
      writeFileSync(path.join(runner.RUNNER_TEMP, 'ucvm-plan', 'plan.md'), plan);
    }
    const values_ = {
      PR_NUMBER: '42',
      HEAD_SHA: 'a'.repeat(40),
      RUN_URL: 'https://github.example/run/1',
      ...values,
    };
    expect(runStep(comment, runner, values_).status).toBe(0);
    const read = (name: string) =>
      readFileSync(path.join(runner.RUNNER_TEMP, 'ucvm-plan', name), 'utf8');
    return { comment: read('comment.md'), pr: read('pr-number'), head: read('head-sha') };
  }

  it('writes the plan, what merging does, and the pull request number', async () => {
    const plan = '### ucvm plan\n\n| channel |\n|---|\n| testing |\n';
    const pending = await commentFor({ VALIDATE: 'success', STATUS: '3' }, plan);
    expect(pending.pr).toBe('42\n');
    expect(pending.head).toBe(`${'a'.repeat(40)}\n`);
    expect(pending.comment).toBe(
      `${plan}\nMerging this pull request changes the repositories above (\`reconcile\` runs on the default branch).\n`,
    );
    expect((await commentFor({ VALIDATE: 'success', STATUS: '2' }, plan)).comment).toContain(
      '**Refused**',
    );
    expect((await commentFor({ VALIDATE: 'success', STATUS: '0' }, plan)).comment).toContain(
      'Nothing to do',
    );
    expect((await commentFor({ VALIDATE: 'success', STATUS: '1' })).comment).toBe(
      '\n**The plan failed** (exit status 1): see the [run](https://github.example/run/1).\n',
    );
    expect((await commentFor({ VALIDATE: 'failure', STATUS: '' })).comment).toContain(
      '**`ucvm validate` found errors**',
    );
  });
});

describe.skipIf(!hasCommand('jq'))('plan-comment.yml: the comment body (needs jq)', () => {
  const job = readWorkflow('plan-comment.yml').jobs.comment!;
  const body = stepNamed(job, 'Comment body (text only)');

  async function bodyFor(pr: string, comment: string) {
    const runner = await runnerFor();
    mkdirSync(path.join(runner.RUNNER_TEMP, 'ucvm-plan'));
    writeFileSync(path.join(runner.RUNNER_TEMP, 'ucvm-plan', 'pr-number'), pr);
    writeFileSync(path.join(runner.RUNNER_TEMP, 'ucvm-plan', 'comment.md'), comment);
    const result = runStep(
      body,
      runner,
      {},
      {
        HEAD_SHA: 'b'.repeat(40),
        RUN_URL: 'https://github.example/run/2',
      },
    );
    return { result, runner };
  }

  it('starts with the marker, keeps the plan, and gives the number as an output', async () => {
    const { result, runner } = await bodyFor('17\n', '### ucvm plan\n');
    expect(result.status, result.stderr).toBe(0);
    expect(runner.outputs()).toEqual({ pr: '17' });
    const payload = JSON.parse(
      readFileSync(path.join(runner.RUNNER_TEMP, 'payload.json'), 'utf8'),
    ) as {
      body: string;
    };
    expect(payload.body).toBe(
      `<!-- ucvm-plan -->\n### ucvm plan\n\n\n<sub>Planned for bbbbbbbbbbbb in [this run](https://github.example/run/2).</sub>\n`,
    );
  });

  it('cuts a comment too long for GitHub', async () => {
    const { result, runner } = await bodyFor('17', 'x'.repeat(100_000));
    expect(result.status).toBe(0);
    const payload = JSON.parse(
      readFileSync(path.join(runner.RUNNER_TEMP, 'payload.json'), 'utf8'),
    ) as {
      body: string;
    };
    expect(payload.body.length).toBeLessThan(60_200);
  });

  it('refuses an artifact that names no pull request number', async () => {
    for (const pr of ['', '0', '-1', '12; rm -rf /', '1e3', '$(id)', '12345678901']) {
      const { result, runner } = await bodyFor(pr, 'x');
      expect(result.status, pr).toBe(1);
      expect(result.stdout).toContain('the artifact names no pull request number');
      expect(runner.outputs()).toEqual({});
    }
  });
});

describe.skipIf(!hasCommand('jq'))('outdated.yml: the issue texts (needs jq)', () => {
  const job = readWorkflow('outdated.yml').jobs.report!;
  const texts = stepNamed(job, 'Issue texts (text only)');

  async function textsFor(
    outdated: unknown,
    plan: unknown,
  ): Promise<{ runner: Runner; read: (name: string) => string }> {
    const runner = await runnerFor();
    const reports = path.join(runner.RUNNER_TEMP, 'ucvm-reports');
    mkdirSync(reports);
    writeFileSync(path.join(reports, 'outdated.json'), JSON.stringify(outdated));
    writeFileSync(path.join(reports, 'plan.json'), JSON.stringify(plan));
    const result = runStep(texts, runner, {}, { RUN_URL: 'https://github.example/run/3' });
    expect(result.status, result.stderr).toBe(0);
    return { runner, read: (name) => readFileSync(path.join(reports, name), 'utf8') };
  }

  it('lists the security updates with the hotfix command, and the expiring whitelists', async () => {
    const { runner, read } = await textsFor(
      {
        channel: 'production',
        packages: [
          {
            name: 'openssl',
            pinned: '3.0.14-1~deb12u2',
            available: '3.0.15-1~deb12u1',
            security: true,
            origin: 'Debian-Security',
          },
          {
            name: 'less',
            pinned: '590-2',
            available: '590-2.1~deb12u2',
            security: false,
            origin: 'Debian',
          },
          {
            name: 'libssl3',
            pinned: '3.0.14-1~deb12u2',
            available: '3.0.15-1~deb12u1',
            security: true,
            origin: 'Debian-Security',
          },
        ],
      },
      {
        plans: [],
        drift: [
          'cernvm-prod.example.org: the whitelist expires on 2026-12-06T00:00:00.000Z; renew it with `ucvm keys resign`',
          'cernvm-dev.example.org: tag generic-1 is explained by no manifest',
        ],
      },
    );
    expect(runner.outputs()).toEqual({ channel: 'production', security: '2', whitelist: '1' });
    const security = read('security.md');
    expect(security).toContain(
      '| openssl | 3.0.14-1~deb12u2 | 3.0.15-1~deb12u1 | Debian-Security |',
    );
    expect(security).toContain('| libssl3 |');
    expect(security).not.toContain('| less |');
    expect(security).toContain(
      'ucvm hotfix production --upgrade openssl libssl3 --reason "security: openssl 3.0.15-1~deb12u1, libssl3 3.0.15-1~deb12u1"',
    );
    const whitelist = read('whitelist.md');
    expect(whitelist).toContain('- cernvm-prod.example.org: the whitelist expires on 2026-12-06');
    expect(whitelist).not.toContain('generic-1');
  });

  it('counts nothing when nothing is pending (the issues are then closed)', async () => {
    const { runner } = await textsFor(
      {
        channel: 'production',
        packages: [
          { name: 'less', pinned: '1', available: '2', security: false, origin: 'Debian' },
        ],
      },
      { plans: [], drift: [] },
    );
    expect(runner.outputs()).toEqual({ channel: 'production', security: '0', whitelist: '0' });
  });
});

describe.skipIf(!hasCommand('jq'))(
  'promote.yml: the promotion commit from the bundle (needs jq)',
  () => {
    const workflow = readWorkflow('promote.yml');
    const bundleLine = stepNamed(workflow.jobs.branch!, 'Promote on a branch')
      .run!.split('\n')
      .find((line) => line.includes('git bundle create'))!
      .trim();
    const check = stepNamed(workflow.jobs['pull-request']!, 'The promotion commit');

    /** A repository at the dispatched commit, and a promotion commit on a branch (job 1). */
    async function promotion(files: Record<string, string>, commits = 1) {
      const runner = await runnerFor();
      const ws = runner.GITHUB_WORKSPACE;
      const git = (...args: string[]) =>
        execFileSync('git', ['-C', ws, ...args], {
          encoding: 'utf8',
          env: {
            ...process.env,
            GIT_AUTHOR_NAME: 't',
            GIT_AUTHOR_EMAIL: 't@example.invalid',
            GIT_COMMITTER_NAME: 't',
            GIT_COMMITTER_EMAIL: 't@example.invalid',
          },
        }).trim();
      git('init', '-q', '-b', 'main');
      mkdirSync(path.join(ws, 'manifests'));
      writeFileSync(path.join(ws, 'manifests', 'production.yaml'), 'version: 1.0.0\n');
      writeFileSync(path.join(ws, 'manifests', 'testing.yaml'), 'version: 1.1.0\n');
      git('add', '.');
      git('commit', '-q', '-m', 'base');
      const base = git('rev-parse', 'HEAD');
      const branch = 'ucvm/promote-production-1.1.0';
      git('switch', '-q', '-c', branch);
      for (let i = 0; i < commits; i++) {
        for (const [file, text] of Object.entries(files))
          writeFileSync(path.join(ws, file), `${text}${i}\n`);
        git('commit', '-q', '-am', `Promote ${i}`);
      }
      const commit = git('rev-parse', 'HEAD');
      const out = path.join(runner.RUNNER_TEMP, 'ucvm-promote');
      mkdirSync(out);
      writeFileSync(
        path.join(out, 'promote.json'),
        JSON.stringify({ branch, commit, title: 't', body: 'b' }),
      );
      // Job 1's bundle, with its own command line; then job 2 has only the dispatched commit.
      execFileSync('bash', ['-c', bundleLine], {
        cwd: ws,
        env: { ...process.env, out, branch, GITHUB_SHA: base },
      });
      git('switch', '-q', '--detach', base);
      git('branch', '-q', '-D', branch);
      git('gc', '-q', '--prune=now');
      const result = runStep(
        check,
        runner,
        { TO: 'production' },
        { GITHUB_SHA: base, TO: 'production' },
      );
      return { result, runner, branch, commit };
    }

    it('takes the one commit that changes the target manifest', async () => {
      const { result, runner, branch, commit } = await promotion({
        'manifests/production.yaml': 'version: 1.1.0\n# ',
      });
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(runner.outputs()).toEqual({ branch, commit });
    });

    it('refuses a commit that changes more than the target manifest, or more than one commit', async () => {
      const more = await promotion({
        'manifests/production.yaml': 'version: 1.1.0\n# ',
        'manifests/testing.yaml': 'version: 9.9.9\n# ',
      });
      expect(more.result.status).toBe(1);
      expect(more.result.stdout).toContain(
        'the promotion changes manifests/production.yaml manifests/testing.yaml, not only manifests/production.yaml',
      );
      const two = await promotion({ 'manifests/production.yaml': 'version: 1.1.0\n# ' }, 2);
      expect(two.result.status).toBe(1);
      expect(two.result.stdout).toContain('the promotion commit is not on');
    });
  },
);
