import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerValidateCommand } from '../../src/cli/commands/validate.js';
import { validManifestText } from '../manifest/fixtures.js';
import { validPipelineText } from './fixtures.js';

let root: string;
let stdout: string;
let stderr: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ucvm-validate-'));
  await mkdir(path.join(root, 'manifests'));
  await mkdir(path.join(root, 'pipeline'));
  await writeFile(path.join(root, 'manifests/testing.yaml'), validManifestText);
  await writeFile(path.join(root, 'pipeline/pipeline.yaml'), validPipelineText);
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.stubEnv('GITHUB_ACTIONS', '');
  process.exitCode = undefined;
});

afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  process.exitCode = undefined;
  await rm(root, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<number> {
  const program = new Command().exitOverride();
  registerValidateCommand(program);
  await program.parseAsync(['node', 'ucvm', 'validate', ...args]);
  return Number(process.exitCode ?? 0);
}

async function breakManifest(): Promise<void> {
  const text = validManifestText.replace('  bash: 5.2.15-2+b2', '  bash: "^5.2"');
  await writeFile(path.join(root, 'manifests/testing.yaml'), `${text}bogus: 1\n`);
}

describe('ucvm validate', () => {
  it('checks manifests/*.yaml and pipeline/pipeline.yaml under --root', async () => {
    expect(await run('--root', root)).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toBe('2 files valid\n');
  });

  it('prints one issue per line and exits 2', async () => {
    await breakManifest();
    expect(await run('--root', root)).toBe(2);
    expect(stdout.split('\n')).toEqual([
      'manifests/testing.yaml:17:9 packages.bash: expected an exact version, got "^5.2"',
      'manifests/testing.yaml:31:1 bogus: unknown field "bogus"; allowed: channel, system, base, install, packages, files, hotfix, rollback',
      '',
    ]);
    expect(stderr).toBe('2 errors, 0 warnings in 2 files\n');
  });

  it('prints machine-readable issues with --json', async () => {
    await breakManifest();
    expect(await run('--root', root, '--json')).toBe(2);
    const report = JSON.parse(stdout) as { ok: boolean; files: number; errors: number; issues: { path: string; line: number }[] };
    expect(report).toMatchObject({ ok: false, files: 2, errors: 2, warnings: 0 });
    expect(report.issues.map((issue) => `${issue.line} ${issue.path}`)).toEqual(['17 packages.bash', '31 bogus']);
  });

  it('adds GitHub annotations under GitHub Actions', async () => {
    await breakManifest();
    vi.stubEnv('GITHUB_ACTIONS', 'true');
    expect(await run('--root', root)).toBe(2);
    expect(stdout).toContain(
      '::error file=manifests/testing.yaml,line=17,col=9,title=packages.bash::expected an exact version, got "^5.2"\n',
    );
  });

  it('checks only the files given, and reports a missing pipeline file', async () => {
    const manifest = path.join(root, 'manifests/testing.yaml');
    expect(await run(manifest)).toBe(0);
    expect(stderr).toBe('1 file valid\n');
    await rm(path.join(root, 'pipeline/pipeline.yaml'));
    expect(await run('--root', root)).toBe(2);
    expect(stdout).toBe('pipeline/pipeline.yaml:1:1: file not found\n');
  });

  it('shows examples in --help', async () => {
    const program = new Command().exitOverride();
    registerValidateCommand(program);
    const help = program.commands[0]?.helpInformation() ?? '';
    expect(help).toContain('--json');
    let full = '';
    program.commands[0]?.configureOutput({ writeOut: (text) => (full += text) });
    await expect(program.parseAsync(['node', 'ucvm', 'validate', '--help'])).rejects.toThrow();
    expect(full).toContain('Examples:\n  $ ucvm validate\n');
  });
});
