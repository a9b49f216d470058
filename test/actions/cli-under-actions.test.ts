import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ucvm } from '../helpers/cli.js';
import { actionsFiles, manifestText, project } from './fixture.js';

/** No line of the output is a workflow command (data on stdout stays data). */
function commandLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('::'));
}

describe('ucvm plan under GitHub Actions', () => {
  it('appends the Markdown plan to the job summary and sets changes and refusals', async () => {
    const { root, publish } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    const actions = await actionsFiles();
    writeFileSync(actions.summary, '## earlier step\n');
    const args = ['plan', '--root', root, '--markdown', '--detailed-exitcode'];

    const first = ucvm(args, { env: actions.env });
    expect(first.status, first.stderr).toBe(3);
    expect(commandLines(first.stdout)).toEqual([]);
    expect(first.stdout).toContain('| development | dev.actions.example.org | - | 1.2.0 | publish');
    // Appended, after what earlier steps wrote; the same Markdown as stdout.
    expect(actions.readSummary()).toBe(`## earlier step\n${first.stdout}`);
    expect(actions.outputs()).toEqual({ changes: 'true', refusals: 'false' });

    for (const channel of ['development', 'testing', 'production'] as const) await publish(channel);
    const second = ucvm(args, { env: actions.env });
    expect(second.status, second.stderr).toBe(0);
    expect(actions.readSummary()).toBe(`## earlier step\n${first.stdout}${second.stdout}`);
    expect(actions.readSummary()).toContain(
      '| production | prod.actions.example.org | 1.0.0 | 1.0.0 | none |',
    );
    // The second step's values (the runner keeps the last one of each name).
    expect(actions.outputs()).toEqual({ changes: 'false', refusals: 'false' });
  });

  it('reports a refusal in the summary and the refusals output (exit 2)', async () => {
    const { root, write, publish } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    await publish('development');
    write('development', '1.2.0', 'Changed after publishing\n');
    const actions = await actionsFiles();
    const result = ucvm(['plan', '--root', root, '--json'], { env: actions.env });
    expect(result.status, result.stderr).toBe(2);
    // --json stays JSON under Actions.
    const json = JSON.parse(result.stdout) as { plans: { refusals: { code: string }[] }[] };
    expect(json.plans[0]!.refusals.map((r) => r.code)).toEqual(['VERSION_CONFLICT']);
    expect(actions.readSummary()).toMatch(
      /\*\*Refused\*\*\n\n- \*\*development\*\*: `VERSION_CONFLICT`/,
    );
    expect(actions.outputs()).toEqual({ changes: 'true', refusals: 'true' });
  });

  it('writes nothing outside Actions, and prints the same', async () => {
    const { root } = await project({ development: '1.2.0', testing: '1.1.0', production: '1.0.0' });
    const args = ['plan', '--root', root, '--markdown', '--detailed-exitcode'];
    const actions = await actionsFiles();
    const inside = ucvm(args, { env: actions.env });
    const before = { summary: actions.readSummary(), output: actions.readOutput() };
    expect(before.summary).not.toBe('');
    for (const value of ['', 'false', '1']) {
      const outside = ucvm(args, { env: { ...actions.outside, GITHUB_ACTIONS: value } });
      expect(outside.status).toBe(inside.status);
      expect(outside.stdout).toBe(inside.stdout);
      expect(outside.stderr).toBe(inside.stderr);
      expect({ summary: actions.readSummary(), output: actions.readOutput() }).toEqual(before);
    }
  });

  it('goes on with a warning when the runner gave no writable summary file', async () => {
    const { root } = await project({ development: '1.2.0', testing: '1.1.0', production: '1.0.0' });
    const actions = await actionsFiles();
    const missing = path.join(path.dirname(actions.summary), 'gone', 'summary.md');
    const result = ucvm(['plan', '--root', root, '--detailed-exitcode'], {
      env: { ...actions.env, GITHUB_STEP_SUMMARY: missing },
    });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('warning: the job summary was not written');
    expect(actions.outputs()).toEqual({ changes: 'true', refusals: 'false' });
  });
});

describe('ucvm validate under GitHub Actions', () => {
  async function broken() {
    const { root } = await project(
      { development: '1.2.0', testing: '1.1.0', production: '1.0.0' },
      { repositories: false },
    );
    writeFileSync(
      path.join(root, 'manifests', 'testing.yaml'),
      `${manifestText('testing', '1.1.0').replace('bash: 5.2.15-2+b2', 'bash: "^5.2"')}bogus: 1\n`,
    );
    return root;
  }

  it('annotates each issue once, on its line', async () => {
    const root = await broken();
    const actions = await actionsFiles();
    const result = ucvm(['validate', '--root', root], { env: actions.env });
    expect(result.status).toBe(2);
    expect(commandLines(result.stdout)).toEqual([
      '::error file=manifests/testing.yaml,line=10,col=9,title=packages.bash::expected an exact version, got "^5.2"',
      '::error file=manifests/testing.yaml,line=14,col=1,title=bogus::unknown field "bogus"; allowed: channel, system, base, install, packages, files, hotfix, rollback',
    ]);
    // Annotations are not outputs or summaries.
    expect(actions.readSummary()).toBe('');
    expect(actions.readOutput()).toBe('');
  });

  it('prints no annotation with --json or outside Actions', async () => {
    const root = await broken();
    const actions = await actionsFiles();
    const json = ucvm(['validate', '--root', root, '--json'], { env: actions.env });
    expect(json.status).toBe(2);
    expect((JSON.parse(json.stdout) as { errors: number }).errors).toBe(2);
    const outside = ucvm(['validate', '--root', root], { env: actions.outside });
    expect(outside.status).toBe(2);
    expect(commandLines(outside.stdout)).toEqual([]);
    expect(outside.stdout).toContain('manifests/testing.yaml:10:9 packages.bash:');
  });
});
