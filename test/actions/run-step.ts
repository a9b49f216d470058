import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from '../helpers/tmp.js';
import { parseOutputs } from './fixture.js';
import type { Step } from './workflow-file.js';

/** A runner's files for one job: temp directory, workspace, and the step command files. */
export async function runnerFor(workspace?: string) {
  const dir = await tmpdir({ 'env.txt': '', 'output.txt': '', 'summary.md': '' });
  const temp = path.join(dir, 'temp');
  mkdirSync(temp);
  const files = {
    RUNNER_TEMP: temp,
    GITHUB_WORKSPACE: workspace ?? path.join(dir, 'workspace'),
    GITHUB_ENV: path.join(dir, 'env.txt'),
    GITHUB_OUTPUT: path.join(dir, 'output.txt'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md'),
  };
  mkdirSync(files.GITHUB_WORKSPACE, { recursive: true });
  return {
    ...files,
    env: () => parseOutputs(readFileSync(files.GITHUB_ENV, 'utf8')),
    outputs: () => parseOutputs(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    summary: () => readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    /** Clears the step outputs (each step has its own file on a runner). */
    nextStep: () => writeFileSync(files.GITHUB_OUTPUT, ''),
  };
}

export type Runner = Awaited<ReturnType<typeof runnerFor>>;

/**
 * Runs a `run:` step as the runner does on Linux (`bash --noprofile --norc -eo pipefail` on a
 * script file) in the workspace. The step's literal `env:` values are kept; those that are
 * expressions (`${{ … }}`) take the value given in `values`, else the empty string (as an
 * unset secret is).
 */
export function runStep(
  step: Step,
  runner: Runner,
  values: Record<string, string> = {},
  extraEnv: Record<string, string> = {},
) {
  if (step.run === undefined) throw new Error(`step ${step.name} has no run`);
  const script = path.join(runner.RUNNER_TEMP, `step-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(script, step.run);
  const stepEnv = Object.fromEntries(
    Object.entries(step.env ?? {}).map(([name, value]) => [
      name,
      value.includes('${{') ? (values[name] ?? '') : value,
    ]),
  );
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    RUNNER_TEMP: runner.RUNNER_TEMP,
    GITHUB_WORKSPACE: runner.GITHUB_WORKSPACE,
    GITHUB_ENV: runner.GITHUB_ENV,
    GITHUB_OUTPUT: runner.GITHUB_OUTPUT,
    GITHUB_STEP_SUMMARY: runner.GITHUB_STEP_SUMMARY,
    ...extraEnv,
    ...stepEnv,
  };
  const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
    cwd: runner.GITHUB_WORKSPACE,
    env,
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}
