import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as core from '@actions/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  annotate,
  appendSummary,
  mask,
  secretLines,
  setOutputs,
  underActions,
} from '../../src/actions/index.js';
import { tmpdir } from '../helpers/tmp.js';

let stdout: string;

beforeEach(() => {
  stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.stubEnv('GITHUB_ACTIONS', 'true');
  vi.stubEnv('GITHUB_STEP_SUMMARY', '');
  vi.stubEnv('GITHUB_OUTPUT', '');
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** `::name k=v,k=v::message` as its parts, so that two encoders can be compared. */
function parseCommand(line: string) {
  const match = /^::([\w-]+)(?: ([^:]*))?::(.*)$/.exec(line);
  if (match === null) throw new Error(`not a workflow command: ${line}`);
  const properties = Object.fromEntries(
    (match[2] ?? '').split(',').map((pair) => pair.split('=') as [string, string]),
  );
  return { command: match[1], properties, message: match[3] };
}

describe('underActions', () => {
  it('is true only for GITHUB_ACTIONS=true', () => {
    expect(underActions({ GITHUB_ACTIONS: 'true' })).toBe(true);
    for (const value of [undefined, '', 'false', '1', 'TRUE'])
      expect(underActions({ GITHUB_ACTIONS: value })).toBe(false);
  });
});

describe('annotate', () => {
  it('prints one workflow command, escaped as @actions/core escapes it', () => {
    const annotation = {
      file: 'manifests/a,b.yaml',
      line: 3,
      column: 4,
      title: 'files.0:x',
      message: '100% wrong\nsecond line',
    };
    annotate({ severity: 'warning', ...annotation });
    expect(stdout).toBe(
      '::warning file=manifests/a%2Cb.yaml,line=3,col=4,title=files.0%3Ax::100%25 wrong%0Asecond line\n',
    );
    const ours = parseCommand(stdout.trimEnd());
    stdout = '';
    core.warning(annotation.message, {
      file: annotation.file,
      startLine: annotation.line,
      startColumn: annotation.column,
      title: annotation.title,
    });
    expect(ours).toEqual(parseCommand(stdout.trimEnd()));
  });

  it('leaves out what it is not given', () => {
    annotate({ severity: 'error', message: 'plain' });
    annotate({
      severity: 'notice',
      message: 'file only',
      file: 'pipeline/pipeline.yaml',
      title: '',
    });
    expect(stdout).toBe('::error::plain\n::notice file=pipeline/pipeline.yaml::file only\n');
  });

  it('does nothing outside Actions', () => {
    vi.stubEnv('GITHUB_ACTIONS', '');
    annotate({ severity: 'error', message: 'x', file: 'a.yaml', line: 1 });
    expect(stdout).toBe('');
  });
});

describe('mask', () => {
  it('masks a key line by line, but not its PEM armour', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    mask(pem);
    const masked = stdout
      .trimEnd()
      .split('\n')
      .map((line) => parseCommand(line));
    expect(masked.every((command) => command.command === 'add-mask')).toBe(true);
    const body = pem
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('-----'));
    expect(masked.map((command) => command.message)).toEqual(
      body.filter((line) => line.length >= 8),
    );
    // Every full 64-character line is masked; only a short last line may be left.
    expect(body.slice(0, -1).every((line) => line.length === 64)).toBe(true);
    expect(stdout).not.toContain('BEGIN');
  });

  it('masks a one-line secret whole, however short', () => {
    expect(secretLines('s3cr')).toEqual(['s3cr']);
    expect(secretLines('  token-with-spaces  \n')).toEqual(['token-with-spaces']);
    expect(secretLines('\n\n')).toEqual([]);
    mask('s3cr');
    expect(stdout).toBe('::add-mask::s3cr\n');
  });

  it('does nothing outside Actions', () => {
    vi.stubEnv('GITHUB_ACTIONS', 'false');
    mask('a secret value');
    expect(stdout).toBe('');
  });
});

describe('setOutputs and appendSummary', () => {
  it('write the runner files under Actions', async () => {
    const dir = await tmpdir({ output: '' });
    vi.stubEnv('GITHUB_OUTPUT', path.join(dir, 'output'));
    expect(setOutputs({ changes: true, count: 2, name: 'x' })).toBe(true);
    const text = readFileSync(path.join(dir, 'output'), 'utf8');
    expect(text).toMatch(
      /^changes<<(ghadelimiter_[\w-]+)\ntrue\n\1\ncount<<(ghadelimiter_[\w-]+)\n2\n\2\nname<<(ghadelimiter_[\w-]+)\nx\n\3\n$/,
    );
    expect(stdout).toBe('');
  });

  it('print nothing when the runner gave no file (no ::set-output on stdout)', async () => {
    expect(setOutputs({ changes: true })).toBe(false);
    expect(await appendSummary('# plan\n')).toBe(false);
    expect(stdout).toBe('');
  });

  it('do nothing outside Actions, even with the files set', async () => {
    const dir = await tmpdir({ output: '', summary: '' });
    vi.stubEnv('GITHUB_ACTIONS', '');
    vi.stubEnv('GITHUB_OUTPUT', path.join(dir, 'output'));
    vi.stubEnv('GITHUB_STEP_SUMMARY', path.join(dir, 'summary'));
    expect(setOutputs({ changes: true })).toBe(false);
    expect(await appendSummary('# plan\n')).toBe(false);
    expect(readFileSync(path.join(dir, 'output'), 'utf8')).toBe('');
    expect(readFileSync(path.join(dir, 'summary'), 'utf8')).toBe('');
    expect(stdout).toBe('');
  });
});
