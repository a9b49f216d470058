import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadManifestText } from '../../src/manifest/load.js';
import type { Channel } from '../../src/manifest/schema.js';
import { createEmbeddedPublisher } from '../../src/publisher/embedded/index.js';
import { desiredVersion } from '../../src/reconcile/desired.js';
import { encodeProvenance } from '../../src/reconcile/provenance.js';
import { tmpdir } from '../helpers/tmp.js';

// The small pipeline of test/reconcile/plan-cli.test.ts: three channels, each with its own
// repository in the project's srv/, keys beside it.
export const fqrns: Record<Channel, string> = {
  development: 'dev.actions.example.org',
  testing: 'test.actions.example.org',
  production: 'prod.actions.example.org',
};

export function manifestText(channel: Channel, version: string, motd = 'Welcome\n'): string {
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

/**
 * A project (manifests, pipeline) whose three repositories exist, empty, beside it (unless
 * `repositories: false`: only the files, for commands that read no repository).
 */
export async function project(
  versions: Record<Channel, string>,
  options: { repositories?: boolean } = {},
) {
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
  if (options.repositories !== false)
    for (const channel of Object.keys(fqrns) as Channel[])
      await publisher(channel).init({ whitelistDays: 30 });
  /** Publishes what the channel's manifest describes (a stand-in tree) with its provenance. */
  const publish = async (channel: Channel) => {
    const text = readFileSync(path.join(root, 'manifests', `${channel}.yaml`), 'utf8');
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

/** The files a runner gives a step: the job summary and the step outputs, empty. */
export async function actionsFiles() {
  const dir = await tmpdir({ 'summary.md': '', 'output.txt': '' });
  const summary = path.join(dir, 'summary.md');
  const output = path.join(dir, 'output.txt');
  return {
    summary,
    output,
    /** The environment of a step under Actions. */
    env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: output },
    /** The same files, outside Actions. */
    outside: { GITHUB_ACTIONS: '', GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: output },
    readSummary: () => readFileSync(summary, 'utf8'),
    readOutput: () => readFileSync(output, 'utf8'),
    outputs: () => parseOutputs(readFileSync(output, 'utf8')),
  };
}

/**
 * Reads `$GITHUB_OUTPUT` as the runner does: `name=value` lines and `name<<DELIMITER` blocks.
 * A name set twice keeps its last value, as on the runner.
 */
export function parseOutputs(text: string): Record<string, string> {
  const lines = text.split('\n');
  const outputs: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const block = /^([^=<]+)<<(.+)$/.exec(line);
    if (block !== null) {
      const end = lines.indexOf(block[2]!, i + 1);
      if (end < 0) throw new Error(`unterminated output ${block[1]}`);
      outputs[block[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not an output line: ${line}`);
    outputs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return outputs;
}
