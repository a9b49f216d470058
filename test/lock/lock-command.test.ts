import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerLockCommand } from '../../src/cli/commands/lock.js';
import { isUcvmError } from '../../src/errors.js';
import { tmpdir } from '../helpers/tmp.js';
import { archiveV1, draftManifest, servedArchive } from './fixtures.js';

let stdout: string;
let stderr: string;

beforeEach(() => {
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
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

async function ucvmLock(...args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerLockCommand(program);
  await program.parseAsync(['node', 'ucvm', 'lock', ...args]);
}

/** A project whose pipeline.yaml names the test archive as its only source. */
async function projectWithPipeline(): Promise<string> {
  const archive = await servedArchive(archiveV1);
  const root = await tmpdir();
  vi.stubEnv('XDG_CACHE_HOME', path.join(root, '.cache'));
  await mkdir(path.join(root, 'manifests'));
  await mkdir(path.join(root, 'pipeline'));
  await writeFile(path.join(root, 'manifests/development.yaml'), draftManifest);
  await writeFile(
    path.join(root, 'pipeline/pipeline.yaml'),
    `repositories:
  - name: os.example.org
    backend: embedded
    storage: srv/os.example.org
    keys: env:UCVM_KEYS_DIR
channels:
  development: os.example.org
promotion: [development]
sources:
  - uri: ${archive.source.uri}
    suite: stable
    keyring: ${archive.repo.keyring}
pool: pool
`,
  );
  return root;
}

describe('ucvm lock', () => {
  it('prints the diff on a dry run and writes nothing', async () => {
    const root = await projectWithPipeline();
    await ucvmLock('development', '--root', root, '--dry-run');
    expect(stdout.split('\n')).toEqual([
      '+ base-files 12.4',
      '+ bash 5.2.15-2',
      '+ hello 1.0-1',
      '+ libc6 2.36-9',
      '+ libgreet 2.1-1',
      `${path.join(root, 'manifests/development.yaml')}: would change (dry run, not written); 5 packages (5 added, 0 removed, 0 upgraded, 0 downgraded)`,
      '',
    ]);
    expect(stderr).toContain('updating the package lists');
    expect(await readFile(path.join(root, 'manifests/development.yaml'), 'utf8')).toBe(
      draftManifest,
    );
  });

  it('adds a root and reports JSON', async () => {
    const root = await projectWithPipeline();
    await ucvmLock('development', '--root', root, '--add', 'webapp', '--json');
    const result = JSON.parse(stdout) as {
      install: string[];
      written: boolean;
      roots: { added: string[] };
      diff: { added: { name: string }[] };
    };
    expect(result.install).toEqual(['hello', 'webapp']);
    expect(result.roots.added).toEqual(['webapp']);
    expect(result.written).toBe(true);
    expect(result.diff.added.map((pin) => pin.name)).toContain('tiny-mta');
    expect(stderr).toBe('');
  });

  it('rejects an unknown channel', async () => {
    const error: unknown = await ucvmLock('staging').catch((caught: unknown) => caught);
    expect(isUcvmError(error, 'USAGE')).toBe(true);
  });
});
