import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProvenance } from '../../src/reconcile/provenance.js';
import { serveInChild } from '../helpers/cli.js';
import { listObjectFiles } from '../helpers/independent.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import {
  commitAll,
  editManifest,
  fqrns,
  git,
  makeProject,
  manifestText,
  openChannel,
  publishedManifest,
  reconcileArgs,
  startArchive,
  storageOf,
  tagRoot,
  ucvmAsync,
  verifyProblems,
  writePipeline,
  type Archive,
} from './fixtures.js';

interface Outcome {
  channel: string;
  action: string;
  status: string;
  rootHash?: string;
  checks?: Record<string, boolean>;
  stats?: { objects?: number; objectsCopied?: number; bytesCopied?: number };
  refusals?: Array<{ code: string; message: string; until?: string }>;
}

let archive: Archive;
let base: string;
let root: string;
let keys: string;

const gates = 'gates:\n  testing:\n    checks: [verify]\n  production:\n    checks: [verify]\n';

async function reconcile(...args: string[]) {
  const result = await ucvmAsync(reconcileArgs(root, archive, base, ...args));
  const report =
    result.stdout.trim() === ''
      ? undefined
      : (JSON.parse(result.stdout) as { outcomes: Outcome[]; warnings: string[] });
  return { ...result, report };
}

async function plan(...args: string[]) {
  const result = await ucvmAsync(['plan', '--root', root, '--json', ...args]);
  return {
    ...result,
    json: JSON.parse(result.stdout) as {
      plans: Array<{
        channel: string;
        action: { kind: string };
        refusals: Array<{ code: string }>;
        changes?: {
          packages?: { upgraded: Array<{ name: string; from: string; to: string }> };
          files?: { modified: number };
        };
      }>;
      warnings: string[];
    },
  };
}

const statusOf = (report: { outcomes: Outcome[] } | undefined) =>
  report?.outcomes.map((outcome) => `${outcome.channel}:${outcome.action}:${outcome.status}`);

beforeAll(async () => {
  archive = await startArchive();
  base = await makeTempDir('ucvm-reconcile-');
  ({ root, keys } = makeProject(
    base,
    {
      development: ['1.0.0', '1.0-1'],
      testing: ['1.0.0', '1.0-1'],
      production: ['1.0.0', '1.0-1'],
    },
    { gates },
  ));
}, 60_000);

afterAll(async () => {
  await archive.close();
  await removeDir(base);
});

describe('ucvm reconcile, a release lifecycle on real git and real repositories', () => {
  it('creates the repositories, publishes development and promotes the same snapshot on', async () => {
    const missing = await reconcile();
    expect(missing.status, missing.stderr).toBe(1);
    expect(missing.stderr).toContain('--init');

    const first = await reconcile('--init');
    expect(first.status, first.stderr).toBe(0);
    expect(statusOf(first.report)).toEqual([
      'development:publish:done',
      'testing:promote:done',
      'production:promote:done',
    ]);
    expect(first.report!.outcomes[0]!.checks).toEqual({ verify: true });
    const roots = await Promise.all(
      (['development', 'testing', 'production'] as const).map((channel) =>
        tagRoot(root, keys, channel, 'HEAD'),
      ),
    );
    expect(new Set(roots).size).toBe(1);
    for (const channel of ['development', 'testing', 'production'] as const)
      expect(await verifyProblems(root, keys, channel)).toEqual([]);

    // Provenance: the commit, the manifest, and for a promotion where it came from.
    const testing = await openChannel(root, keys, 'testing');
    try {
      const tag = (await testing.tags()).find((t) => t.name === 'cernvm-system-1.0.0')!;
      const provenance = decodeProvenance(tag.description)!;
      expect(provenance.commit).toBe(git(root, 'rev-parse', 'HEAD').trim());
      expect(provenance.manifest).toBe('manifests/testing.yaml');
      expect(provenance.from).toEqual({
        repository: fqrns.development,
        tag: 'cernvm-system-1.0.0',
      });
      const snapshot = await testing.snapshot('HEAD');
      const release = await snapshot.lookup('/etc/ucvm-release');
      expect(release).toBeDefined();
    } finally {
      testing.close();
    }
    // Every .deb of the published version is kept in the pool.
    expect(readdirSync(path.join(root, 'pool'), { recursive: true }).join(' ')).toContain('hello');
  }, 240_000);

  it('a second run right after changes nothing and says so', async () => {
    const before = (['development', 'testing', 'production'] as const).map((c) =>
      publishedManifest(root, c),
    );
    const again = await reconcile();
    expect(again.status, again.stderr).toBe(0);
    expect(statusOf(again.report)).toEqual([
      'development:none:unchanged',
      'testing:none:unchanged',
      'production:none:unchanged',
    ]);
    const text = await ucvmAsync(['reconcile', '--root', root]);
    expect(text.stdout).toContain('nothing to do');
    (['development', 'testing', 'production'] as const).forEach((c, i) =>
      expect(publishedManifest(root, c)).toEqual(before[i]),
    );
  }, 120_000);

  it('publishes a new version in development; plan shows the package diff', async () => {
    editManifest(root, 'development', manifestText('development', '1.1.0', '1.1-1'));
    commitAll(root, 'development: hello 1.1');
    const planned = await plan();
    const dev = planned.json.plans[0]!;
    expect(dev.action.kind).toBe('publish');
    expect(dev.changes?.packages?.upgraded).toEqual([
      { name: 'hello', from: '1.0-1', to: '1.1-1' },
    ]);
    const result = await reconcile();
    expect(result.status, result.stderr).toBe(0);
    expect(statusOf(result.report)).toEqual([
      'development:publish:done',
      'testing:none:unchanged',
      'production:none:unchanged',
    ]);
  }, 120_000);

  it('promotes by pull request: ucvm promote commits a minimal edit on a branch, reconcile copies', async () => {
    const promoted = await ucvmAsync([
      'promote',
      'development',
      'testing',
      '--root',
      root,
      '--json',
    ]);
    expect(promoted.status, promoted.stderr).toBe(0);
    const result = JSON.parse(promoted.stdout) as { branch: string; commit: string; title: string };
    expect(result.branch).toBe('ucvm/promote-testing-1.1.0');
    expect(result.title).toBe('Promote cernvm-system 1.1.0 from development to testing');
    const diff = git(root, 'diff', 'main', result.branch, '--', 'manifests/testing.yaml');
    const changed = diff.split('\n').filter((line) => /^[-+][^-+]/.test(line));
    expect(changed.sort()).toEqual(
      [
        '-  version: 1.0.0',
        '+  version: 1.1.0',
        '-  description: CernVM 1.0.0 test',
        '+  description: CernVM 1.1.0 test',
        '-  hello: 1.0-1',
        '+  hello: 1.1-1',
      ].sort(),
    );
    // The plan of the pull request, before merging: a promotion with its file summary.
    const planned = await plan();
    const testing = planned.json.plans[1]!;
    expect(testing.action.kind).toBe('promote');
    expect(testing.changes?.files?.modified).toBeGreaterThan(0);
    git(root, 'checkout', '-q', 'main');
    git(root, 'merge', '-q', '--ff-only', result.branch);

    const applied = await reconcile();
    expect(applied.status, applied.stderr).toBe(0);
    const outcome = applied.report!.outcomes[1]!;
    expect(`${outcome.action}:${outcome.status}`).toBe('promote:done');
    expect(outcome.stats!.objectsCopied).toBeLessThan(outcome.stats!.objects!);
    expect(await tagRoot(root, keys, 'testing', 'cernvm-system-1.1.0')).toBe(
      await tagRoot(root, keys, 'development', 'cernvm-system-1.1.0'),
    );
    const same = await ucvmAsync([
      'repo',
      'diff',
      `${storageOf(root, 'development')}@cernvm-system-1.1.0`,
      `${storageOf(root, 'testing')}@HEAD`,
      '--keys',
      keys,
      '--json',
    ]);
    expect(same.status, same.stderr).toBe(0);
    expect((JSON.parse(same.stdout) as { changes: unknown[] }).changes).toEqual([]);
  }, 180_000);

  it('a gate not met refuses the promotion and says until when; nothing is written', async () => {
    writePipeline(root, keys, {
      gates:
        'gates:\n  testing:\n    checks: [verify]\n  production:\n    soak: 2h\n    checks: [verify, boot]\n',
    });
    commitAll(root, 'production: soak 2h and a boot test');
    const promoted = await ucvmAsync([
      'promote',
      'testing',
      'production',
      '--root',
      root,
      '--json',
    ]);
    expect(promoted.status, promoted.stderr).toBe(0);
    git(root, 'checkout', '-q', 'main');
    git(root, 'merge', '-q', '--ff-only', 'ucvm/promote-production-1.1.0');
    const before = publishedManifest(root, 'production');
    const refused = await reconcile();
    expect(refused.status).toBe(2);
    const production = refused.report!.outcomes[2]!;
    expect(production.status).toBe('refused');
    expect(production.refusals![0]!.code).toBe('GATE_NOT_MET');
    expect(production.refusals![0]!.message).toContain('boot');
    expect(Date.parse(production.refusals![0]!.until!) - Date.now()).toBeGreaterThan(3600_000);
    expect(publishedManifest(root, 'production')).toEqual(before);

    // The boot test passes (recorded, signed, by whoever ran it); the soak time is lowered.
    const check = await ucvmAsync([
      'repo',
      'check',
      storageOf(root, 'testing'),
      'cernvm-system-1.1.0',
      'boot',
      '--keys',
      keys,
      '--details',
      'booted in QEMU',
    ]);
    expect(check.status, check.stderr).toBe(0);
    writePipeline(root, keys, {
      gates:
        'gates:\n  testing:\n    checks: [verify]\n  production:\n    checks: [verify, boot]\n',
    });
    commitAll(root, 'production: no soak');
    const applied = await reconcile();
    expect(applied.status, applied.stderr).toBe(0);
    expect(statusOf(applied.report)?.[2]).toBe('production:promote:done');
  }, 180_000);

  it('rolls back by revert: only the history and the signed manifest change', async () => {
    const objects = new Set(listObjectFiles(storageOf(root, 'testing')));
    git(root, 'revert', '--no-edit', 'HEAD~3');
    const planned = await plan();
    expect(planned.json.plans[1]!.action.kind).toBe('rollback');
    const result = await reconcile();
    expect(result.status, result.stderr).toBe(0);
    expect(statusOf(result.report)?.[1]).toBe('testing:rollback:done');
    expect(await tagRoot(root, keys, 'testing', 'HEAD')).toBe(
      await tagRoot(root, keys, 'testing', 'cernvm-system-1.0.0'),
    );
    const added = listObjectFiles(storageOf(root, 'testing')).filter((name) => !objects.has(name));
    expect(
      added.every((name) => name.endsWith('H')),
      added.join(' '),
    ).toBe(true);
    expect(await verifyProblems(root, keys, 'testing')).toEqual([]);
  }, 120_000);

  it('takes a security hotfix straight into production, and plan reminds the others', async () => {
    const hotfix = await ucvmAsync([
      'hotfix',
      'production',
      '--upgrade',
      'hello',
      '--reason',
      'DSA-0000-1 in hello',
      '--root',
      root,
      '--apt-root',
      archive.aptRoot,
      '--state-dir',
      path.join(base, 'lock-state'),
      '--json',
    ]);
    expect(hotfix.status, hotfix.stderr).toBe(0);
    const result = JSON.parse(hotfix.stdout) as { version: string; branch: string };
    expect(result.version).toBe('1.1.1');
    git(root, 'checkout', '-q', 'main');
    git(root, 'merge', '-q', '--ff-only', result.branch);
    const applied = await reconcile();
    expect(applied.status, applied.stderr).toBe(0);
    expect(statusOf(applied.report)?.[2]).toBe('production:publish:done');
    const planned = await plan();
    expect(planned.json.warnings.join('\n')).toMatch(/development .*hello 1\.1-1 < 1\.1-2/);
    expect(planned.json.warnings.join('\n')).toMatch(/testing .*hello 1\.0-1 < 1\.1-2/);
  }, 180_000);

  it('refuses bad input with a clear error, and publishes nothing', async () => {
    const manifests = (['development', 'testing', 'production'] as const).map((c) =>
      publishedManifest(root, c),
    );
    // A published version whose content changed.
    editManifest(root, 'development', manifestText('development', '1.1.0', '1.0-1'));
    const conflict = await reconcile();
    expect(conflict.status).toBe(2);
    expect(conflict.report!.outcomes[0]!.refusals![0]!.code).toBe('VERSION_CONFLICT');
    git(root, 'checkout', '--', 'manifests/development.yaml');
    // A downgrade to a version the repository lacks.
    editManifest(root, 'production', manifestText('production', '0.9.0', '1.0-1'));
    const unknown = await reconcile();
    expect(unknown.status).toBe(2);
    expect(unknown.report!.outcomes[2]!.refusals![0]!.code).toBe('VERSION_UNKNOWN');
    git(root, 'checkout', '--', 'manifests/production.yaml');
    // A version that skipped testing, not marked as a hotfix.
    editManifest(root, 'production', manifestText('production', '1.2.0', '1.1-2'));
    const skipped = await reconcile();
    expect(skipped.status, skipped.stdout + skipped.stderr).toBe(2);
    expect(skipped.report!.outcomes[2]!.refusals![0]!.code).toBe('HOTFIX_REQUIRED');
    git(root, 'checkout', '--', 'manifests/production.yaml');
    // Unknown channel; promotions that skip a channel or name a version the source lacks.
    const channel = await ucvmAsync(['reconcile', '--root', root, '--channel', 'staging']);
    expect(channel.status).toBe(2);
    expect(channel.stderr).toContain('unknown channel "staging"');
    const skip = await ucvmAsync(['promote', 'development', 'production', '--root', root]);
    expect(skip.status).toBe(2);
    expect(skip.stderr).toContain('HOTFIX_REQUIRED');
    const absent = await ucvmAsync([
      'promote',
      'development',
      'testing',
      '--version',
      '9.9.9',
      '--root',
      root,
    ]);
    expect(absent.status).toBe(2);
    expect(absent.stderr).toContain('holds no cernvm-system-9.9.9');
    // A promotion commit holds only its own edit.
    editManifest(root, 'testing', `${manifestText('testing', '1.0.0', '1.0-1')}# local edit\n`);
    const dirty = await ucvmAsync(['promote', 'development', 'testing', '--root', root]);
    expect(dirty.status).toBe(2);
    expect(dirty.stderr).toContain('manifests/testing.yaml has uncommitted changes');
    git(root, 'checkout', '--', 'manifests/testing.yaml');
    (['development', 'testing', 'production'] as const).forEach((c, i) =>
      expect(publishedManifest(root, c)).toEqual(manifests[i]),
    );
    expect(git(root, 'status', '--porcelain')).toBe('');
  }, 180_000);

  it('refuses to write on a repository whose manifest signature fails', async () => {
    const file = path.join(storageOf(root, 'development'), '.cvmfspublished');
    const good = publishedManifest(root, 'development');
    const bad = Buffer.from(good);
    bad[bad.length - 5] = bad[bad.length - 5]! ^ 0x55;
    writeFileSync(file, bad);
    editManifest(root, 'development', manifestText('development', '1.2.0', '1.1-2'));
    commitAll(root, 'development: 1.2.0');
    const result = await reconcile();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/signature/i);
    expect(publishedManifest(root, 'development')).toEqual(bad);
    writeFileSync(file, good);
    const repaired = await reconcile();
    expect(repaired.status, repaired.stderr).toBe(0);
    expect(statusOf(repaired.report)?.[0]).toBe('development:publish:done');
  }, 180_000);

  it('reads the same state over HTTP: plan --remote has nothing to do, the tree says its version', async () => {
    const server = await serveInChild(
      (['development', 'testing', 'production'] as const).map((c) => storageOf(root, c)),
    );
    try {
      const file = path.join(root, 'pipeline', 'pipeline.yaml');
      const text = readFileSync(file, 'utf8');
      writeFileSync(
        file,
        text.replace(
          /storage: srv\/(\S+)\n/g,
          (_line, fqrn: string) => `storage: srv/${fqrn}\n    url: ${server.url}/${fqrn}\n`,
        ),
      );
      const remote = await plan('--remote');
      expect(remote.status, remote.stderr).toBe(0);
      expect(remote.json.plans.map((p) => p.action.kind)).toEqual(['none', 'none', 'none']);
      const release = await ucvmAsync([
        'repo',
        'cat',
        `${server.url}/${fqrns.development}@HEAD`,
        '/etc/ucvm-release',
        '--keys',
        keys,
      ]);
      expect(release.status, release.stderr).toBe(0);
      expect(release.stdout).toContain('UCVM_VERSION=1.2.0');
      expect(release.stdout).toMatch(/^UCVM_IDENTITY=sha256:[0-9a-f]{64}$/m);
      expect(release.stdout).toMatch(/^UCVM_COMMIT=[0-9a-f]{40}$/m);
      // A promotion can be prepared from the served repository alone (no storage access).
      const promoted = await ucvmAsync([
        'promote',
        'development',
        'testing',
        '--remote',
        '--no-commit',
        '--root',
        root,
        '--json',
      ]);
      expect(promoted.status, promoted.stderr).toBe(0);
      expect(JSON.parse(promoted.stdout)).toMatchObject({ changed: true, version: '1.2.0' });
      expect(readFileSync(path.join(root, 'manifests/testing.yaml'), 'utf8')).toContain(
        'version: 1.2.0',
      );
      git(root, 'checkout', '--', 'manifests/testing.yaml');
      writeFileSync(file, text);
    } finally {
      await server.close();
    }
  }, 120_000);
});
