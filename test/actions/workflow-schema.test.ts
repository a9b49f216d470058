import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpdir } from '../helpers/tmp.js';
import { WORKFLOWS, workflowFiles, workflowProblems } from './workflow-schema.js';

describe('the workflows against the GitHub workflow schema', () => {
  it('finds the workflows this pipeline needs', () => {
    expect(workflowFiles(WORKFLOWS)).toEqual(
      expect.arrayContaining([
        'ci.yml',
        'outdated.yml',
        'plan-comment.yml',
        'plan.yml',
        'promote.yml',
        'reconcile.yml',
      ]),
    );
  });

  for (const name of workflowFiles(WORKFLOWS)) {
    it(`${name} is valid`, () => {
      expect(workflowProblems(path.join(WORKFLOWS, name))).toEqual([]);
    });
  }

  it('rejects broken workflows, so the check above can fail', async () => {
    const dir = await tmpdir();
    const plan = readFileSync(path.join(WORKFLOWS, 'plan.yml'), 'utf8');
    const broken = {
      // A misspelt key of a job.
      'stepz.yml': plan.replace('    steps:\n', '    stepz:\n'),
      // A permission level that does not exist.
      'permission.yml': plan.replace('  contents: read\n', '  contents: reed\n'),
      // A job that needs a job that is not there.
      'needs.yml': readFileSync(path.join(WORKFLOWS, 'reconcile.yml'), 'utf8').replace(
        'needs: pre-production',
        'needs: staging',
      ),
      // Not YAML at all.
      'syntax.yml': 'on: [push\njobs: {}\n',
      // A trigger that does not exist.
      'trigger.yml': plan.replace('  pull_request:\n', '  pull_request_opened:\n'),
    };
    for (const [name, text] of Object.entries(broken)) writeFileSync(path.join(dir, name), text);
    const problems = Object.fromEntries(
      workflowFiles(dir).map((name) => [name, workflowProblems(path.join(dir, name))]),
    );
    expect(problems['stepz.yml']).toContain(
      "/jobs/plan: Additional property 'stepz' is not allowed",
    );
    expect(problems['permission.yml']).toContain(
      '/permissions/contents: Enum conditions are not met',
    );
    expect(problems['needs.yml']).toContain('/jobs/production/needs: unresolved job staging');
    expect(problems['syntax.yml']!.join('\n')).toContain('did not find expected');
    expect(problems['trigger.yml']).toContain(
      "/on: Additional property 'pull_request_opened' is not allowed",
    );
  });
});
