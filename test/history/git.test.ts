import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCatFileBatch, systemOf, versionCommits } from '../../src/history/git.js';
import { tmpdir } from '../helpers/tmp.js';

function gitIn(dir: string) {
  let clock = 1_700_000_000;
  return (args: string[], author = 'Tester'): string => {
    clock += 60;
    return execFileSync('git', ['-C', dir, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: author,
        GIT_AUTHOR_EMAIL: `${author.toLowerCase().replace(/\W/g, '')}@example.invalid`,
        GIT_AUTHOR_DATE: `@${clock} +0000`,
        GIT_COMMITTER_NAME: author,
        GIT_COMMITTER_EMAIL: 'c@example.invalid',
        GIT_COMMITTER_DATE: `@${clock} +0000`,
      },
    }).trim();
  };
}

const manifest = (version: string, description = 'plain') =>
  `channel: testing\nsystem:\n  name: cernvm-system\n  version: ${version}\n  description: ${description}\n`;

describe('systemOf', () => {
  it('reads system.name and system.version, leniently', () => {
    expect(systemOf(manifest('1.2.3'))).toEqual({ name: 'cernvm-system', version: '1.2.3' });
    expect(systemOf('system:\n  version: 2.0.0\n')).toEqual({
      name: 'cernvm-system',
      version: '2.0.0',
    });
    expect(systemOf('system: [')).toBeUndefined();
    expect(systemOf('other: 1\n')).toBeUndefined();
    expect(systemOf('')).toBeUndefined();
  });
});

describe('parseCatFileBatch', () => {
  it('counts sizes in bytes, not characters, and skips missing objects', () => {
    const first = Buffer.from('café ☕\n');
    const output = Buffer.concat([
      Buffer.from(`${'a'.repeat(40)} blob ${first.length}\n`),
      first,
      Buffer.from('\nHEAD^:x missing\n'),
      Buffer.from(`${'b'.repeat(40)} blob 2\nok\n`),
    ]);
    expect(parseCatFileBatch(output, 3)).toEqual(['café ☕\n', undefined, 'ok']);
  });
});

describe('versionCommits', () => {
  it('lists the commits that changed system.version, across branches, with UTF-8 content, from a subdirectory', async () => {
    const top = await tmpdir();
    const root = path.join(top, 'os');
    mkdirSync(path.join(root, 'manifests'), { recursive: true });
    const git = gitIn(top);
    const file = path.join(root, 'manifests', 'testing.yaml');
    const commit = (text: string, author: string, message: string): string => {
      writeFileSync(file, text);
      git(['add', '-A'], author);
      git(['commit', '-q', '-m', message], author);
      return git(['rev-parse', 'HEAD']);
    };
    git(['init', '-q', '-b', 'main']);
    writeFileSync(path.join(top, 'README'), 'unrelated\n');
    git(['add', 'README']);
    git(['commit', '-q', '-m', 'readme']);
    const first = commit(manifest('1.0.0', 'Café ☕ système'), 'Zoë Ærø', 'first');
    commit(manifest('1.0.0', 'Café ☕ système, reworded'), 'Other', 'no version change');
    git(['checkout', '-q', '-b', 'feature']);
    const feature = commit(manifest('1.1.0'), 'Branch Author', 'feature: 1.1.0');
    git(['checkout', '-q', 'main']);
    writeFileSync(path.join(top, 'README'), 'unrelated, changed\n');
    git(['commit', '-q', '-am', 'readme again']);
    git(['merge', '-q', '--no-ff', '-m', 'merge feature', 'feature']);
    rmSync(file);
    git(['commit', '-q', '-am', 'remove the manifest']);
    const back = commit(manifest('1.1.0'), 'Restorer', 'restore the manifest');

    const result = await versionCommits(root, 'manifests/testing.yaml');
    expect(result.warnings).toEqual([]);
    expect(result.commits.map((c) => [c.commit, c.author, c.version, c.subject])).toEqual([
      [back, 'Restorer', '1.1.0', 'restore the manifest'],
      [feature, 'Branch Author', '1.1.0', 'feature: 1.1.0'],
      [first, 'Zoë Ærø', '1.0.0', 'first'],
    ]);
    expect(result.commits[2]).toMatchObject({
      email: 'zor@example.invalid',
      date: expect.stringMatching(/^2023-11-14T\d\d:\d\d:\d\d\+00:00$/) as unknown,
      name: 'cernvm-system',
    });
  });

  it('warns about a shallow clone, and about a directory outside git', async () => {
    const origin = await tmpdir();
    const git = gitIn(origin);
    git(['init', '-q', '-b', 'main']);
    mkdirSync(path.join(origin, 'manifests'));
    for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
      writeFileSync(path.join(origin, 'manifests', 'testing.yaml'), manifest(version));
      git(['add', '-A']);
      git(['commit', '-q', '-m', version]);
    }
    const clone = path.join(await tmpdir(), 'clone');
    execFileSync('git', ['clone', '-q', '--depth', '1', `file://${origin}`, clone]);
    const shallow = await versionCommits(clone, 'manifests/testing.yaml');
    expect(shallow.commits.map((c) => c.version)).toEqual(['1.2.0']);
    expect(shallow.warnings).toEqual([expect.stringContaining('shallow clone') as unknown]);
    const outside = await tmpdir();
    const none = await versionCommits(outside, 'manifests/testing.yaml');
    expect(none.commits).toEqual([]);
    expect(none.warnings).toEqual([
      expect.stringContaining('is not in a git repository') as unknown,
    ]);
  });
});
