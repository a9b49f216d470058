import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifestText } from '../../src/manifest/load.js';
import type { Channel } from '../../src/manifest/schema.js';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { desiredVersion } from '../../src/reconcile/desired.js';
import { encodeProvenance } from '../../src/reconcile/provenance.js';
import { ucvm } from '../helpers/cli.js';
import { flipSignatureByte } from '../helpers/tamper.js';
import { tmpdir } from '../helpers/tmp.js';

const fqrns: Record<Channel, string> = {
  development: 'dev.plan.example.org',
  testing: 'test.plan.example.org',
  production: 'prod.plan.example.org',
};

function manifestText(channel: Channel, version: string, motd = 'Welcome\n'): string {
  return `channel: ${channel}
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

/** A project (manifests, pipeline) whose three repositories exist, empty, beside it. */
async function project(versions: Record<Channel, string>) {
  const root = await tmpdir();
  const keys = path.join(root, 'keys');
  mkdirSync(path.join(root, 'manifests'));
  mkdirSync(path.join(root, 'pipeline'));
  const write = (channel: Channel, version: string, motd?: string): void =>
    writeFileSync(
      path.join(root, 'manifests', `${channel}.yaml`),
      manifestText(channel, version, motd),
    );
  for (const channel of Object.keys(fqrns) as Channel[]) write(channel, versions[channel]);
  writeFileSync(
    path.join(root, 'pipeline', 'pipeline.yaml'),
    `repositories:\n${Object.values(fqrns)
      .map(
        (fqrn) =>
          `  - name: ${fqrn}\n    backend: embedded\n    storage: srv/${fqrn}\n    keys: ${keys}\n`,
      )
      .join('')}channels:\n${Object.entries(fqrns)
      .map(([c, f]) => `  ${c}: ${f}\n`)
      .join('')}pool: pool\n`,
  );
  const publisher = (channel: Channel) =>
    createEmbeddedPublisher({
      storage: path.join(root, 'srv', fqrns[channel]),
      keysDir: keys,
      spoolDir: path.join(root, 'spool', channel),
    });
  for (const channel of Object.keys(fqrns) as Channel[])
    await publisher(channel).init({ whitelistDays: 30 });
  /** Publishes what the channel's manifest describes (a stand-in tree) with its provenance. */
  const publish = async (channel: Channel, text = manifestText(channel, versions[channel])) => {
    const manifest = loadManifestText(text, `manifests/${channel}.yaml`);
    const version = await desiredVersion(manifest, root);
    const tree = await tmpdir({ 'etc/motd': manifest.files[0]!.content ?? '' });
    const tag = `cernvm-system-${manifest.system.version}`;
    await publisher(channel).publish({
      tree,
      tag,
      description: encodeProvenance({
        ucvm: 1,
        version: manifest.system.version,
        identity: version.identity.digest,
        fields: version.identity.fields,
        at: new Date().toISOString(),
      }),
    });
    await publisher(channel).tag({ name: 'HEAD', target: tag });
  };
  return { root, keys, write, publish };
}

function plan(root: string, ...args: string[]) {
  const result = ucvm(['plan', '--root', root, '--json', ...args]);
  return {
    ...result,
    json:
      result.stdout === ''
        ? undefined
        : (JSON.parse(result.stdout) as {
            plans: Array<{
              channel: string;
              action: { kind: string };
              refusals: Array<{ code: string }>;
            }>;
          }),
  };
}

describe('ucvm plan', () => {
  it('plans the seeding of empty repositories, then nothing, with the detailed exit code', async () => {
    const { root, publish } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    const first = plan(root, '--detailed-exitcode');
    expect(first.status, first.stderr).toBe(3);
    expect(first.json!.plans.map((p) => p.action.kind)).toEqual(['publish', 'publish', 'publish']);
    for (const channel of ['development', 'testing', 'production'] as const) await publish(channel);
    const second = plan(root, '--detailed-exitcode');
    expect(second.status, second.stderr).toBe(0);
    expect(second.json!.plans.map((p) => p.action.kind)).toEqual(['none', 'none', 'none']);
    const markdown = ucvm(['plan', '--root', root, '--markdown']);
    expect(markdown.stdout).toContain(
      '| development | dev.plan.example.org | 1.2.0 | 1.2.0 | none |',
    );
  });

  it('plans a promotion of what the channel before holds, with the same identity', async () => {
    const { root, write, publish } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    for (const channel of ['development', 'testing', 'production'] as const) await publish(channel);
    write('testing', '1.2.0');
    const result = plan(root);
    expect(result.json!.plans.map((p) => p.action.kind)).toEqual(['none', 'promote', 'none']);
  });

  it('refuses a published version whose content changed (exit 2)', async () => {
    const { root, write, publish } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    await publish('development');
    write('development', '1.2.0', 'Changed after publishing\n');
    const result = plan(root);
    expect(result.status).toBe(2);
    expect(result.json!.plans[0]!.refusals.map((r) => r.code)).toEqual(['VERSION_CONFLICT']);
  });

  it('reads with the public key only, and refuses a repository whose signature fails', async () => {
    const { root, keys } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    for (const name of ['masterkey', 'key'])
      for (const fqrn of Object.values(fqrns))
        writeFileSync(path.join(keys, `${fqrn}.${name}`), '');
    expect(plan(root).status).toBe(0);
    flipSignatureByte(path.join(root, 'srv', fqrns.testing, '.cvmfspublished'));
    const result = plan(root);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('SIGNATURE_INVALID');
  });

  it('limits the plan to channels whose manifest changed since a git revision', async () => {
    const { root, write } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', root, ...args], {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.invalid',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.invalid',
        },
      });
    git('init', '-q', '-b', 'main');
    writeFileSync(path.join(root, '.gitignore'), 'srv/\nkeys/\nspool/\n');
    git('add', '.');
    git('commit', '-q', '-m', 'pipeline');
    expect(plan(root, '--since', 'main').json!.plans).toEqual([]);
    write('testing', '1.1.1');
    expect(plan(root, '--since', 'main').json!.plans.map((p) => p.channel)).toEqual(['testing']);
    const bad = plan(root, '--since', 'no-such-ref');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('cannot compare with "no-such-ref"');
  });

  it('fails clearly on a repository URL that does not answer (--remote)', async () => {
    const { root } = await project({
      development: '1.2.0',
      testing: '1.1.0',
      production: '1.0.0',
    });
    // A port nothing listens on: bind one, then close it.
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as AddressInfo;
        server.close(() => resolve(free));
      });
    });
    const file = path.join(root, 'pipeline', 'pipeline.yaml');
    const text = readFileSync(file, 'utf8').replace(
      /storage: srv\/(\S+)\n/g,
      (_line, fqrn: string) =>
        `storage: srv/${fqrn}\n    url: http://127.0.0.1:${port}/cvmfs/${fqrn}\n`,
    );
    writeFileSync(file, text);
    expect(plan(root).status).toBe(0);
    const result = plan(root, '--remote');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stderr).toMatch(/refused|HTTP_FAILED/);
  });
});
