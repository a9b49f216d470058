import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifestText } from '../../src/manifest/load.js';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { desiredVersion } from '../../src/reconcile/desired.js';
import { encodeProvenance } from '../../src/reconcile/provenance.js';
import { serveInChild, ucvm } from '../helpers/cli.js';
import { flipSignatureByte } from '../helpers/tamper.js';
import { tmpdir } from '../helpers/tmp.js';

const fqrn = 'test.history.example.org';
const devFqrn = 'dev.history.example.org';

function manifestText(version: string, motd = 'Welcome\n'): string {
  return `channel: testing
system:
  name: cernvm-system
  version: ${version}
base:
  distribution: debian
  suite: bookworm
  architecture: amd64
packages:
  bash: 5.2.15-2+b2
files:
  - path: /etc/motd
    content: ${JSON.stringify(motd)}
`;
}

interface Person {
  name: string;
  email: string;
}

const alice: Person = { name: 'Alice Liddell', email: 'alice@example.invalid' };
const bob: Person = { name: 'Bob Builder', email: 'bob@example.invalid' };
const carol: Person = { name: 'Carol Danvers', email: 'carol@example.invalid' };
const dave: Person = { name: 'Dave Bowman', email: 'dave@example.invalid' };
const erin: Person = { name: 'Erin Brockovich', email: 'erin@example.invalid' };

/**
 * A git repository with manifests/testing.yaml and a pipeline whose testing repository (created,
 * empty) lives in srv/ beside it, keys in keys/ (both ignored by git, as a real checkout has them).
 */
async function project(options: { url?: string } = {}) {
  const root = await tmpdir();
  const keys = path.join(root, 'keys');
  const storage = path.join(root, 'srv', fqrn);
  mkdirSync(path.join(root, 'manifests'));
  mkdirSync(path.join(root, 'pipeline'));
  const writePipeline = (url?: string): void =>
    writeFileSync(
      path.join(root, 'pipeline', 'pipeline.yaml'),
      `repositories:
  - name: ${fqrn}
    backend: embedded
    storage: srv/${fqrn}
    keys: ${keys}
${url === undefined ? '' : `    url: ${url}\n`}channels:
  testing: ${fqrn}
promotion: [testing]
pool: pool
`,
    );
  writePipeline(options.url);
  writeFileSync(path.join(root, '.gitignore'), 'srv/\nkeys/\nspool/\n');
  let clock = Date.parse('2025-03-01T09:00:00Z') / 1000;
  const git = (args: string[], who: Person = alice): string =>
    execFileSync('git', ['-C', root, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: who.name,
        GIT_AUTHOR_EMAIL: who.email,
        GIT_AUTHOR_DATE: `@${clock} +0100`,
        GIT_COMMITTER_NAME: 'CI',
        GIT_COMMITTER_EMAIL: 'ci@example.invalid',
        GIT_COMMITTER_DATE: `@${clock} +0000`,
      },
    }).trim();
  git(['init', '-q', '-b', 'main']);
  /** Writes the manifest and commits it as `who`; returns the commit hash. */
  const commit = (text: string, who: Person, message: string): string => {
    clock += 3600;
    writeFileSync(path.join(root, 'manifests', 'testing.yaml'), text);
    git(['add', '.'], who);
    git(['commit', '-q', '-m', message], who);
    return git(['rev-parse', 'HEAD']);
  };
  const publisher = createEmbeddedPublisher({
    storage,
    keysDir: keys,
    spoolDir: path.join(root, 'spool'),
  });
  await publisher.init({ whitelistDays: 30 });
  /** Publishes the committed manifest's version (a stand-in tree) with its provenance; moves HEAD. */
  const publish = async (
    text: string,
    extra: {
      commit?: string;
      actor?: string;
      run?: string;
      at: string;
      from?: { repository: string; tag: string };
    },
  ) => {
    const manifest = loadManifestText(text, 'manifests/testing.yaml');
    const version = await desiredVersion(manifest, root);
    const tree = await tmpdir({ 'etc/motd': manifest.files[0]!.content ?? '' });
    const tag = `cernvm-system-${manifest.system.version}`;
    await publisher.publish({
      tree,
      tag,
      description: encodeProvenance({
        ucvm: 1,
        version: manifest.system.version,
        identity: version.identity.digest,
        fields: version.identity.fields,
        ...extra,
      }),
    });
    await publisher.tag({ name: 'HEAD', target: tag });
  };
  return { root, keys, storage, git, commit, publish, writePipeline };
}

interface History {
  channel: string;
  system: string;
  repository: {
    fqrn: string;
    location: string;
    rollingTag: string;
    exists: boolean;
    rollingTarget?: string;
  };
  versions: Array<{
    version: string;
    tag: string;
    rolling: boolean;
    desired: boolean;
    commit?: { commit: string; author: string; email: string; date: string; subject: string };
    commits: Array<{ commit: string; author: string }>;
    published?: {
      rootHash: string;
      publishedAt: string;
      provenance?: { commit?: string; actor?: string; run?: string; at: string };
      description?: string;
    };
    promotedFrom?: { repository: string; tag: string };
  }>;
  warnings: string[];
}

function history(root: string, ...args: string[]) {
  const result = ucvm(['history', 'testing', '--root', root, '--json', ...args]);
  return {
    ...result,
    json: result.status === 0 ? (JSON.parse(result.stdout) as History) : undefined,
  };
}

/** The scenario: 1.0.0 published, 1.1.0 promoted from dev, 1.2.0 never published, HEAD back on 1.0.0. */
async function rolledBack() {
  const p = await project();
  const v100 = p.commit(manifestText('1.0.0'), alice, 'testing: 1.0.0');
  await p.publish(manifestText('1.0.0'), {
    commit: v100,
    actor: 'alice-gh',
    run: 'https://github.com/example/os/actions/runs/1',
    at: '2025-03-01T10:30:00.000Z',
  });
  // A change that leaves the version alone is no version of its own.
  p.commit(
    manifestText('1.0.0').replace('channel: testing', '# comment\nchannel: testing'),
    carol,
    'comment',
  );
  const v110 = p.commit(manifestText('1.1.0', 'Welcome to 1.1\n'), bob, 'testing: 1.1.0');
  await p.publish(manifestText('1.1.0', 'Welcome to 1.1\n'), {
    commit: v110,
    actor: 'bob-gh',
    at: '2025-03-01T12:30:00.000Z',
    from: { repository: devFqrn, tag: 'cernvm-system-1.1.0' },
  });
  const v120 = p.commit(manifestText('1.2.0', 'Welcome to 1.2\n'), erin, 'testing: 1.2.0');
  // Rolled back by hand through the built CLI, then the manifest reverted to match.
  const moved = ucvm(['repo', 'tag', p.storage, 'HEAD', 'cernvm-system-1.0.0', '--keys', p.keys]);
  expect(moved.status, moved.stderr).toBe(0);
  const revert = p.commit(manifestText('1.0.0'), dave, 'Revert to 1.0.0');
  return { ...p, v100, v110, v120, revert };
}

describe('ucvm history', () => {
  it('merges git and the repository, newest first, the rolling tag marked where it points now', async () => {
    const { root, git, v100, v110, v120, revert } = await rolledBack();
    const result = history(root);
    expect(result.status, result.stderr).toBe(0);
    const json = result.json!;
    expect(json.warnings).toEqual([]);
    expect(json.repository).toMatchObject({ fqrn, rollingTag: 'HEAD', exists: true });
    expect(json.versions.map((v) => [v.version, v.rolling, v.desired])).toEqual([
      ['1.2.0', false, false],
      ['1.1.0', false, false],
      ['1.0.0', true, true],
    ]);
    const [v12, v11, v10] = json.versions;
    // The commits are git's own: hash, author, e-mail, date, subject as git log prints them.
    const logged = (hash: string) =>
      git(['log', '-1', '--format=%H%n%an%n%ae%n%aI%n%s', hash]).split('\n');
    expect([
      v10!.commit!.commit,
      v10!.commit!.author,
      v10!.commit!.email,
      v10!.commit!.date,
      v10!.commit!.subject,
    ]).toEqual(logged(v100));
    expect(v10!.commits.map((c) => [c.commit, c.author])).toEqual([
      [revert, dave.name],
      [v100, alice.name],
    ]);
    expect(v11!.commit).toMatchObject({ commit: v110, author: bob.name });
    expect(v12!.commit).toMatchObject({ commit: v120, author: erin.name });
    expect(v10!.published!.provenance).toMatchObject({
      commit: v100,
      actor: 'alice-gh',
      run: 'https://github.com/example/os/actions/runs/1',
    });
    expect(v10!.published!.publishedAt).toBe('2025-03-01T10:30:00.000Z');
    expect(v11!.promotedFrom).toEqual({ repository: devFqrn, tag: 'cernvm-system-1.1.0' });
    expect(v12!.published).toBeUndefined();
    expect(json.repository.rollingTarget).toBe(v10!.published!.rootHash);
    expect(v11!.published!.rootHash).not.toBe(v10!.published!.rootHash);
  });

  it('prints one line per version with the marker on the version HEAD points at', async () => {
    const { root, v100, v110, v120, revert } = await rolledBack();
    const result = ucvm(['history', 'testing', '--root', root]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`testing: ${fqrn} (${path.join(root, 'srv', fqrn)}), HEAD → 1.0.0`);
    expect(lines[1]).toMatch(/^version\s+published\s+commit\s+date\s+author$/);
    expect(lines.slice(2)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^1\\.2\\.0\\s+not published\\s+${v120.slice(0, 8)}\\s+2025-03-01 13:00:00Z\\s+Erin Brockovich$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^1\\.1\\.0\\s+2025-03-01 12:30:00Z\\s+${v110.slice(0, 8)}\\s+2025-03-01 12:00:00Z\\s+Bob Builder\\s+promoted from ${devFqrn.replace(/\./g, '\\.')} cernvm-system-1\\.1\\.0$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^1\\.0\\.0\\s+2025-03-01 10:30:00Z\\s+${v100.slice(0, 8)}\\s+2025-03-01 10:00:00Z\\s+Alice Liddell\\s+← HEAD  set again in ${revert.slice(0, 8)}  \\(manifest\\)$`,
        ),
      ),
    ]);
    expect(lines).toHaveLength(5);
  });

  it('follows the rolling tag when it moves forward again, and reads over HTTP with --remote', async () => {
    const { root, storage, keys, writePipeline } = await rolledBack();
    const moved = ucvm(['repo', 'tag', storage, 'HEAD', 'cernvm-system-1.1.0', '--keys', keys]);
    expect(moved.status, moved.stderr).toBe(0);
    const server = await serveInChild([storage]);
    try {
      writePipeline(`${server.url}/${fqrn}`);
      const result = history(root, '--remote');
      expect(result.status, result.stderr).toBe(0);
      expect(result.json!.repository.location).toBe(`${server.url}/${fqrn}`);
      expect(result.json!.versions.filter((v) => v.rolling).map((v) => v.version)).toEqual([
        '1.1.0',
      ]);
    } finally {
      await server.close();
    }
  });

  it('shows versions the repository holds that git does not explain, and a rolling tag moved by hand', async () => {
    const p = await project();
    p.commit(manifestText('1.0.0'), alice, 'testing: 1.0.0');
    await p.publish(manifestText('0.9.0'), { at: '2025-02-01T00:00:00.000Z' });
    await p.publish(manifestText('1.0.0'), { at: '2025-03-01T00:00:00.000Z' });
    // 0.9.0 was published by hand (no commit in git set it): repository side only.
    const json = history(p.root).json!;
    const v09 = json.versions.find((v) => v.version === '0.9.0')!;
    expect(v09.commit).toBeUndefined();
    expect(v09.published!.publishedAt).toBe('2025-02-01T00:00:00.000Z');
    const text = ucvm(['history', 'testing', '--root', p.root]);
    expect(text.stdout).toMatch(/^0\.9\.0\s+2025-02-01 00:00:00Z\s+-\s+-\s+-$/m);
    // A tag that is no version (published by hand), then HEAD moved onto it.
    const tree = await tmpdir({ 'etc/motd': 'hand-made\n' });
    const published = ucvm([
      'repo',
      'publish',
      p.storage,
      tree,
      '--tag',
      'experiment',
      '--keys',
      p.keys,
    ]);
    expect(published.status, published.stderr).toBe(0);
    expect(ucvm(['repo', 'tag', p.storage, 'HEAD', 'experiment', '--keys', p.keys]).status).toBe(0);
    const drifted = ucvm(['history', 'testing', '--root', p.root]);
    expect(drifted.status).toBe(0);
    expect(drifted.stdout).not.toContain('←');
    expect(drifted.stdout).not.toContain('experiment');
    expect(drifted.stderr).toMatch(
      /^warning: the rolling tag HEAD of test\.history\.example\.org points at [0-9a-f]+, which no version tag names \(moved by hand\?\)$/m,
    );
  });

  it('without git or before the first publication: what there is, with a warning', async () => {
    const p = await project();
    writeFileSync(path.join(p.root, 'manifests', 'testing.yaml'), manifestText('1.0.0'));
    // No commit yet: an empty repository has no history, but is one.
    const empty = history(p.root);
    expect(empty.status, empty.stderr).toBe(0);
    expect(empty.json!.versions.map((v) => [v.version, v.desired, v.published])).toEqual([
      ['1.0.0', true, undefined],
    ]);
    expect(empty.json!.warnings).toEqual([]);
    // Outside git altogether: the repository's side alone.
    const bare = await tmpdir();
    for (const dir of ['manifests', 'pipeline'])
      execFileSync('cp', ['-r', path.join(p.root, dir), bare]);
    const result = ucvm(['history', 'testing', '--root', bare]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('is not in a git repository');
    expect(result.stdout).toMatch(/^1\.0\.0\s+not published\s+-\s+-\s+-\s+\(manifest\)$/m);
  });

  it('refuses a repository whose signature fails, an unknown channel, a channel without repository', async () => {
    const { root, storage } = await rolledBack();
    flipSignatureByte(path.join(storage, '.cvmfspublished'));
    const bad = ucvm(['history', 'testing', '--root', root]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('error SIGNATURE_INVALID');
    const unknown = ucvm(['history', 'staging', '--root', root]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('error USAGE: unknown channel "staging"');
    expect(unknown.stderr).toContain('Channels: development, testing, production.');
    writeFileSync(
      path.join(root, 'manifests', 'production.yaml'),
      manifestText('1.0.0').replace('channel: testing', 'channel: production'),
    );
    const unconfigured = ucvm(['history', 'production', '--root', root]);
    expect(unconfigured.status).toBe(2);
    expect(unconfigured.stderr).toContain(
      'error USAGE: channel production has no repository in pipeline/pipeline.yaml',
    );
  });
});
