import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  environmentName,
  grantedPermissions,
  readWorkflow,
  stepNamed,
  type Workflow,
} from './workflow-file.js';
import { WORKFLOWS, workflowFiles } from './workflow-schema.js';

const all = workflowFiles(WORKFLOWS).map((name) => ({ name, workflow: readWorkflow(name) }));
const steps = (workflow: Workflow) => Object.values(workflow.jobs).flatMap((job) => job.steps);

describe('every workflow', () => {
  it('pins every action by its full commit SHA', () => {
    for (const { name, workflow } of all)
      for (const step of steps(workflow))
        if (step.uses !== undefined && !step.uses.startsWith('./'))
          expect(step.uses, `${name}: ${step.uses}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
  });

  it('never runs on pull_request_target', () => {
    for (const { name } of all)
      expect(readFileSync(path.join(WORKFLOWS, name), 'utf8'), name).not.toContain(
        'pull_request_target',
      );
  });

  it('puts no ${{ }} expression inside a script (values come through env)', () => {
    for (const { name, workflow } of all)
      for (const step of steps(workflow))
        if (step.run !== undefined) expect(step.run, `${name}: ${step.name}`).not.toContain('${{');
  });

  it('grants no permission at workflow level beyond reading', () => {
    for (const { name, workflow } of all) {
      const permissions = grantedPermissions(workflow)[0]!;
      for (const level of Object.values(permissions))
        expect(['read', 'none'], `${name}`).toContain(level);
    }
  });
});

describe('plan.yml', () => {
  const workflow = readWorkflow('plan.yml');
  const job = workflow.jobs.plan!;

  it('runs on pull_request with a read-only token and no secrets', () => {
    expect(Object.keys(workflow.on)).toEqual(['pull_request']);
    for (const permissions of grantedPermissions(workflow))
      for (const level of Object.values(permissions)) expect(['read', 'none']).toContain(level);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(readFileSync(path.join(WORKFLOWS, 'plan.yml'), 'utf8')).not.toMatch(
      /secrets\.|github\.token|GITHUB_TOKEN/,
    );
  });

  it('checks out the whole history without keeping a token, validates, then plans remotely', () => {
    const checkout = job.steps.find((step) => step.uses?.startsWith('actions/checkout@'));
    expect(checkout?.with).toMatchObject({ 'fetch-depth': 0, 'persist-credentials': false });
    expect(stepNamed(job, 'Validate').run).toBe('node dist/src/cli/main.js validate');
    const plan = stepNamed(job, 'Plan');
    expect(plan.if).toBe("steps.validate.outcome == 'success'");
    expect(plan.env).toEqual({ BASE_REF: '${{ github.base_ref }}' });
    expect(plan.run!.replace(/\\\n\s*/g, '')).toContain(
      'node dist/src/cli/main.js plan --remote --since "origin/$BASE_REF" --markdown --detailed-exitcode',
    );
  });

  it('uploads the plan with the pull request number, whatever the outcome', () => {
    const upload = job.steps.find((step) => step.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('always()');
    expect(upload?.with?.name).toBe('ucvm-plan');
    expect(stepNamed(job, 'Comment text').env?.PR_NUMBER).toBe(
      '${{ github.event.pull_request.number }}',
    );
  });
});

describe('plan-comment.yml', () => {
  const workflow = readWorkflow('plan-comment.yml');

  it('follows plan.yml by workflow_run, with pull-requests: write only in its job', () => {
    expect(workflow.on).toEqual({
      workflow_run: { workflows: [readWorkflow('plan.yml').name], types: ['completed'] },
    });
    expect(workflow.permissions).toEqual({});
    expect(workflow.jobs.comment!.permissions).toEqual({
      actions: 'read',
      'pull-requests': 'write',
    });
  });

  it("never checks out or runs the pull request's code", () => {
    for (const step of steps(workflow)) {
      expect(step.uses).toBeUndefined();
      // No action (no actions/checkout of any ref), no git, nothing built or run from the tree.
      expect(step.run ?? '').not.toMatch(/\b(npm|npx|node|git|bash|sh|source)\b|\.\//);
    }
  });

  it('finds its one comment by the hidden marker and checks the number it was given', () => {
    const job = workflow.jobs.comment!;
    const body = stepNamed(job, 'Comment body (text only)').run!;
    expect(body).toContain("echo '<!-- ucvm-plan -->'");
    expect(body).toContain('[[ "$pr" =~ ^[1-9][0-9]{0,9}$ ]]');
    expect(body).not.toMatch(/\bgh\b/);
    const post = stepNamed(job, 'Post or update the comment').run!;
    expect(post).toContain('gh api "repos/$GH_REPO/pulls/$PR" --jq .head.sha');
    expect(post).toContain('startswith("<!-- ucvm-plan -->")');
    expect(post).toContain('--method PATCH "repos/$GH_REPO/issues/comments/$id"');
    expect(post).toContain('--method POST "repos/$GH_REPO/issues/$PR/comments"');
  });
});

describe('reconcile.yml', () => {
  const workflow = readWorkflow('reconcile.yml');
  const jobs = Object.entries(workflow.jobs);

  it('runs on pushes of manifests and the pipeline to main, and by hand', () => {
    expect(workflow.on).toEqual({
      push: { branches: ['main'], paths: ['manifests/**', 'pipeline/**'] },
      workflow_dispatch: null,
    });
  });

  it('is serialised and never cancels a running reconcile', () => {
    expect(workflow.concurrency).toEqual({ group: 'ucvm-reconcile', 'cancel-in-progress': false });
    for (const [, job] of jobs)
      if (job.concurrency !== undefined && typeof job.concurrency !== 'string')
        expect(job.concurrency['cancel-in-progress']).toBe(false);
  });

  it('reconciles development and testing, then production in its environment', () => {
    const first = workflow.jobs['pre-production']!;
    const production = workflow.jobs.production!;
    expect(stepNamed(first, 'Reconcile development and testing').run).toBe(
      'node dist/src/cli/main.js reconcile --channel development testing --wait 600',
    );
    expect(stepNamed(production, 'Reconcile production').run).toBe(
      'node dist/src/cli/main.js reconcile --channel production --wait 600',
    );
    expect(first.if).toBe("github.ref == 'refs/heads/main'");
    expect(production.needs).toBe('pre-production');
    expect(environmentName(production)).toBe('production');
    for (const [, job] of jobs) expect(job['runs-on']).toEqual(['self-hosted', 'ucvm']);
  });

  it('takes the keys from secrets and always removes them, last', () => {
    const secrets: Record<string, string> = {
      'pre-production': 'UCVM_KEYS_TGZ',
      production: 'UCVM_PROD_KEYS_TGZ',
    };
    for (const [id, job] of jobs) {
      const keys = stepNamed(job, 'Signing keys from the secret (0600, masked)');
      expect(keys.env?.KEYS_TGZ).toBe(`\${{ secrets.${secrets[id]} }}`);
      expect(keys.run).toMatch(/^umask 077$/m);
      expect(keys.run).toContain('chmod 0600 "$file"');
      expect(keys.run).toContain('echo "::add-mask::$line"');
      const last = job.steps.at(-1)!;
      expect(last).toEqual({
        name: 'Remove the keys',
        if: 'always()',
        run: 'rm -rf "$RUNNER_TEMP/ucvm-keys"',
      });
      // Secrets appear in no other step.
      for (const step of job.steps)
        if (step !== keys)
          expect(JSON.stringify(step), `${id}: ${step.name}`).not.toContain('secrets.');
    }
    expect(
      stepNamed(workflow.jobs.production!, 'Signing keys from the secret (0600, masked)').env,
    ).toMatchObject({ PRIVATE_VAR: 'UCVM_PROD_KEYS_DIR', PUBLIC_VAR: 'UCVM_KEYS_DIR' });
  });
});

describe('promote.yml', () => {
  const workflow = readWorkflow('promote.yml');

  it('is dispatched with from, to and an optional version', () => {
    const dispatch = workflow.on.workflow_dispatch as {
      inputs: Record<string, { required: boolean }>;
    };
    expect(Object.keys(workflow.on)).toEqual(['workflow_dispatch']);
    expect(Object.keys(dispatch.inputs)).toEqual(['from', 'to', 'version']);
    expect(dispatch.inputs.version!.required).toBe(false);
  });

  it('commits on the pipeline machine, and opens the pull request elsewhere with the bot token', () => {
    const branch = workflow.jobs.branch!;
    const pr = workflow.jobs['pull-request']!;
    expect(branch['runs-on']).toEqual(['self-hosted', 'ucvm']);
    expect(stepNamed(branch, 'Promote on a branch').run).toContain(
      'args=(promote "$FROM" "$TO" --json)',
    );
    expect(JSON.stringify(branch)).not.toContain('secrets.');
    expect(branch.if).toBe(
      "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)",
    );
    expect(pr.needs).toBe('branch');
    const open = stepNamed(pr, 'Push the branch and open the pull request');
    expect(open.env?.GH_TOKEN).toBe('${{ secrets.UCVM_BOT_TOKEN }}');
    expect(open.run).toContain('gh pr create');
    expect(JSON.stringify(pr)).not.toContain('secrets.GITHUB_TOKEN');
    expect(JSON.stringify(pr)).not.toContain('github.token');
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });
});

describe('outdated.yml', () => {
  const workflow = readWorkflow('outdated.yml');

  it('runs daily and by hand; only the job that runs nothing of the repository writes issues', () => {
    expect(Object.keys(workflow.on)).toEqual(['schedule', 'workflow_dispatch']);
    expect(workflow.jobs.check!.permissions).toBeUndefined();
    expect(workflow.jobs.report!.permissions).toEqual({ issues: 'write' });
    for (const step of workflow.jobs.report!.steps)
      expect(step.uses ?? '').not.toMatch(/^actions\/checkout@/);
    const text = readFileSync(path.join(WORKFLOWS, 'outdated.yml'), 'utf8');
    expect(text).toContain('node dist/src/cli/main.js outdated production --json');
    expect(text).toContain('sync_issue ucvm-outdated "Security updates for $CHANNEL"');
    expect(text).toContain('sync_issue ucvm-whitelist');
  });
});
