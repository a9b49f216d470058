import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ucvm } from '../helpers/cli.js';
import { tmpdir } from '../helpers/tmp.js';

describe('the ucvm command line', () => {
  it.each([
    ['keys', 'init'],
    ['keys', 'resign'],
    ['repo', 'init'],
    ['repo', 'publish'],
    ['repo', 'tags'],
    ['repo', 'ls'],
    ['repo', 'cat'],
    ['repo', 'diff'],
    ['repo', 'verify'],
    ['repo', 'serve'],
    ['repo', 'gc'],
    ['repo', 'tag'],
    ['repo', 'untag'],
  ])('%s %s --help shows examples', (group, command) => {
    const result = ucvm([group, command, '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toContain(`$ ucvm ${group} ${command}`);
  });

  it('exits 2 on usage errors and bad input, 1 on failures, 0 on success', async () => {
    const base = await tmpdir();
    const common = ['--keys', path.join(base, 'keys'), '--spool', path.join(base, 'spool')];
    expect(ucvm(['repo', 'frobnicate']).status).toBe(2);
    const badName = ucvm(['repo', 'init', path.join(base, 'nodot'), ...common]);
    expect(badName.status).toBe(2);
    expect(badName.stderr).toMatch(/^error FQRN_INVALID: "nodot" is not a valid repository name/m);

    const storage = path.join(base, 'srv', 'cli.example.org');
    const withKeys = { env: { UCVM_KEYS_DIR: path.join(base, 'keys') } };
    const init = ucvm(['repo', 'init', storage, '--json', ...common]);
    expect(init.status, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ fqrn: 'cli.example.org' });
    const again = ucvm(['repo', 'init', storage, ...common]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('REPO_EXISTS');

    const tree = path.join(base, 'tree');
    mkdirSync(path.join(tree, 'etc'), { recursive: true });
    writeFileSync(path.join(tree, 'etc', 'motd'), 'hi\n');
    const published = ucvm(['repo', 'publish', storage, tree, '--tag', 'v1', '--json', ...common]);
    expect(published.status, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout)).toMatchObject({
      revision: 2,
      tag: 'v1',
      unchanged: false,
    });

    const tags = JSON.parse(ucvm(['repo', 'tags', storage, '--json'], withKeys).stdout) as {
      tags: Array<{ name: string }>;
    };
    expect(tags.tags.map((t) => t.name).sort()).toEqual(['trunk', 'trunk-previous', 'v1']);
    expect(ucvm(['repo', 'cat', `${storage}@v1`, '/etc/motd'], withKeys).stdout).toBe('hi\n');
    const ls = JSON.parse(
      ucvm(['repo', 'ls', `${storage}@v1`, '/etc', '--json'], withKeys).stdout,
    ) as Array<{
      path: string;
      type: string;
      size: number;
    }>;
    expect(ls).toEqual([expect.objectContaining({ path: '/etc/motd', type: 'regular', size: 3 })]);
    const missing = ucvm(['repo', 'cat', `${storage}@v1`, '/nope'], withKeys);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('PATH_NOT_FOUND');
    expect(ucvm(['repo', 'ls', `${storage}@nosuchtag`, '/'], withKeys).stderr).toContain(
      'TAG_NOT_FOUND',
    );

    writeFileSync(path.join(tree, 'etc', 'motd'), 'hello there\n');
    writeFileSync(path.join(tree, 'new'), 'new\n');
    expect(ucvm(['repo', 'publish', storage, tree, '--tag', 'v2', ...common]).status).toBe(0);
    const diff = ucvm(['repo', 'diff', `${storage}@v1`, `${storage}@v2`], withKeys);
    expect(diff.stdout).toContain('A /new');
    expect(diff.stdout).toMatch(/M \/etc\/motd \(content/);
    const summary = JSON.parse(
      ucvm(['repo', 'diff', `${storage}@v1`, `${storage}@v2`, '--json', '--summary'], withKeys)
        .stdout,
    ) as { summary: Record<string, number> };
    expect(summary.summary).toMatchObject({
      added: 1,
      removed: 0,
      bytesAdded: 4,
      bytesDelta: 4 + 9,
    });

    const verify = ucvm(['repo', 'verify', storage, '--keys', path.join(base, 'keys'), '--json']);
    expect(verify.status, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, warnings: [] });
  });

  it('refuses a tree with a file the publishing user cannot read', async () => {
    const base = await tmpdir();
    chmodSync(base, 0o755);
    const storage = path.join(base, 'srv', 'perm.example.org');
    const keys = path.join(base, 'keys');
    const spool = path.join(base, 'spool');
    expect(ucvm(['repo', 'init', storage, '--keys', keys, '--spool', spool]).status).toBe(0);
    const tree = path.join(base, 'tree');
    mkdirSync(tree);
    writeFileSync(path.join(tree, 'public'), 'ok');
    writeFileSync(path.join(tree, 'secret'), 'no');
    chmodSync(path.join(tree, 'secret'), 0o600);
    // Run as nobody: the publisher needs the storage, spool and keys, but not the secret file.
    mkdirSync(spool, { recursive: true });
    execFileSync('chown', ['-R', '65534:65534', path.join(base, 'srv'), spool, keys]);
    const result = ucvm(
      ['repo', 'publish', storage, tree, '--tag', 'x', '--keys', keys, '--spool', spool],
      { uid: 65534, gid: 65534 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('TREE_INVALID');
    expect(result.stderr).toContain('/secret: file is not readable');
  });
});
