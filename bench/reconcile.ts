/**
 * The reconciler's benchmark (`node dist/bench/reconcile.js [--quick]`), in one run:
 *
 * 1. No-op `ucvm plan` and `ucvm reconcile` over three channels with 50 tags each, from the
 *    storage directories and `plan --remote` over HTTP (a `ucvm repo serve` on 127.0.0.1):
 *    the median wall time of the CLI, goal under 1 s each.
 * 2. A promotion of a snapshot that differs from the target's current one by one package, as a
 *    ratio to publishing the same tree from scratch into a fresh repository (goal under 10 %),
 *    from the directory and over HTTP; and the bytes it transferred against the size of the
 *    changed package's .deb (built with dpkg-deb from the files that changed).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { loadPublicKey } from '../src/keys/index.js';
import { loadManifestText } from '../src/manifest/load.js';
import type { Channel } from '../src/manifest/schema.js';
import {
  createEmbeddedPublisher,
  type EmbeddedPublisher,
} from '../src/publisher/embedded/index.js';
import { desiredVersion } from '../src/reconcile/desired.js';
import { encodeProvenance } from '../src/reconcile/provenance.js';
import { openVerifiedRepository } from '../src/reader/open.js';
import { openSource } from '../src/reader/source.js';
import { round } from './goals.js';
import { describeMachine } from './machine.js';
import { say } from './shell.js';
import { FULL_SHAPE, generateTree, QUICK_SHAPE, type GeneratedTree } from './trees.js';

const CLI = resolve(import.meta.dirname, '../src/cli/main.js');
const RESULTS = resolve(import.meta.dirname, '../../bench/results');
const CHANNELS: Channel[] = ['development', 'testing', 'production'];
const TAGS = 50;
const RUNS = 5;
const GOALS = { noOpSeconds: 1, promotionToFullPublish: 0.1 } as const;

function fqrn(channel: Channel): string {
  return `${channel}.bench.example.org`;
}

function manifestText(channel: Channel, version: string): string {
  return `channel: ${channel}\nsystem:\n  name: cernvm-system\n  version: ${version}\nbase:\n  distribution: debian\n  suite: bookworm\n  architecture: amd64\npackages:\n  bash: 5.2.15-2+b2\n`;
}

function pipelineText(keys: string, url?: string): string {
  const repositories = CHANNELS.map(
    (channel) =>
      `  - name: ${fqrn(channel)}\n    backend: embedded\n    storage: srv/${fqrn(channel)}\n    keys: ${keys}\n${url === undefined ? '' : `    url: ${url}/${fqrn(channel)}\n`}`,
  ).join('');
  const channels = CHANNELS.map((channel) => `  ${channel}: ${fqrn(channel)}\n`).join('');
  return `repositories:\n${repositories}channels:\n${channels}pool: pool\n`;
}

function git(root: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], {
    cwd: root,
    stdio: 'ignore',
  });
}

/** Three repositories with 50 version tags each; each channel's manifest asks for the newest. */
async function pipelineWithTags(base: string): Promise<{ root: string; keys: string }> {
  const root = join(base, 'pipeline');
  const keys = join(base, 'keys');
  await mkdir(join(root, 'manifests'), { recursive: true });
  await mkdir(join(root, 'pipeline'));
  await writeFile(join(root, 'pipeline', 'pipeline.yaml'), pipelineText(keys));
  await writeFile(join(root, '.gitignore'), '/srv/\n/pool/\n');
  git(root, 'init', '-q', '-b', 'main');
  // A history as a release team makes it: one commit per version of every channel.
  for (let i = 0; i < TAGS; i++) {
    for (const channel of CHANNELS)
      await writeFile(
        join(root, 'manifests', `${channel}.yaml`),
        manifestText(channel, `1.${i}.0`),
      );
    git(root, 'add', '.');
    git(root, 'commit', '-q', '-m', `version 1.${i}.0`);
  }
  for (const channel of CHANNELS) {
    const publisher = createEmbeddedPublisher({
      storage: join(root, 'srv', fqrn(channel)),
      keysDir: keys,
      spoolDir: join(base, 'spool', channel),
    });
    await publisher.init({ whitelistDays: 30 });
    const tree = join(base, `tree-${channel}`);
    await mkdir(join(tree, 'etc'), { recursive: true });
    for (let i = 0; i < TAGS; i++) {
      const version = `1.${i}.0`;
      const manifest = loadManifestText(
        manifestText(channel, version),
        `manifests/${channel}.yaml`,
      );
      const { identity } = await desiredVersion(manifest, root);
      await writeFile(join(tree, 'etc', 'version'), `${version}\n`);
      await publisher.publish({
        tree,
        tag: `cernvm-system-${version}`,
        rollingTags: ['HEAD'],
        description: encodeProvenance({
          ucvm: 1,
          version,
          identity: identity.digest,
          fields: identity.fields,
          at: new Date().toISOString(),
        }),
      });
    }
  }
  return { root, keys };
}

function runCli(args: readonly string[]): { seconds: number; status: number | null; out: string } {
  const started = process.hrtime.bigint();
  try {
    const out = execFileSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, status: 0, out };
  } catch (error) {
    const failed = error as { status: number | null; stderr?: string };
    return {
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      status: failed.status,
      out: failed.stderr ?? '',
    };
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median seconds of a CLI run that must say "nothing to do" (exit 0). */
function timeNoOp(args: readonly string[]): { medianSeconds: number; runs: number[] } {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const result = runCli(args);
    if (result.status !== 0) throw new Error(`ucvm ${args.join(' ')} failed: ${result.out}`);
    if (!result.out.includes('nothing to do'))
      throw new Error(`ucvm ${args.join(' ')} had something to do:\n${result.out}`);
    runs.push(result.seconds);
  }
  return { medianSeconds: round(median(runs), 3), runs: runs.map((s) => round(s, 3)) };
}

async function serve(storages: string[]): Promise<{ url: string; close(): void }> {
  const child = spawn(
    process.execPath,
    [CLI, 'repo', 'serve', ...storages, '--port', '0', '--json'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('}')) resolveUrl((JSON.parse(out) as { url: string }).url);
    });
    child.on('exit', () => reject(new Error('ucvm repo serve exited')));
  });
  return { url, close: () => child.kill('SIGTERM') };
}

async function benchNoOp(base: string) {
  say(`setting up three repositories with ${TAGS} tags each`);
  const { root } = await pipelineWithTags(base);
  const storages = CHANNELS.map((channel) => join(root, 'srv', fqrn(channel)));
  say('timing no-op plan and reconcile');
  const plan = timeNoOp(['plan', '--root', root]);
  const reconcile = timeNoOp(['reconcile', '--root', root]);
  const server = await serve(storages);
  try {
    await writeFile(
      join(root, 'pipeline', 'pipeline.yaml'),
      pipelineText(join(base, 'keys'), `${server.url}`),
    );
    git(root, 'commit', '-q', '-a', '-m', 'urls');
    const remote = timeNoOp(['plan', '--root', root, '--remote']);
    return {
      channels: CHANNELS.length,
      tagsPerRepository: TAGS + 3,
      plan: { ...plan, goal: GOALS.noOpSeconds, met: plan.medianSeconds < GOALS.noOpSeconds },
      reconcile: {
        ...reconcile,
        goal: GOALS.noOpSeconds,
        met: reconcile.medianSeconds < GOALS.noOpSeconds,
      },
      planOverHttp: {
        ...remote,
        goal: GOALS.noOpSeconds,
        met: remote.medianSeconds < GOALS.noOpSeconds,
      },
    };
  } finally {
    server.close();
  }
}

/** Rewrites the files of one "package" (one directory of the tree) and packs them as a .deb. */
async function changePackage(tree: GeneratedTree, base: string) {
  const byDirectory = new Map<string, typeof tree.files>();
  for (const file of tree.files) {
    const dir = file.relative.slice(0, file.relative.lastIndexOf('/'));
    byDirectory.set(dir, [...(byDirectory.get(dir) ?? []), file]);
  }
  // A mid-sized package: the directory whose bytes are closest to 2 MB.
  const [dir, files] = [...byDirectory].sort(
    ([, a], [, b]) =>
      Math.abs(a.reduce((s, f) => s + f.size, 0) - 2e6) -
      Math.abs(b.reduce((s, f) => s + f.size, 0) - 2e6),
  )[0]!;
  const deb = join(base, 'package');
  let bytes = 0;
  for (const file of files) {
    const path = join(tree.root, file.relative);
    const old = await readFile(path);
    const next = Buffer.concat([
      Buffer.from('upgraded '),
      old.subarray(0, Math.max(0, old.length - 9)),
    ]);
    await writeFile(path, next);
    bytes += next.length;
    await mkdir(join(deb, dir), { recursive: true });
    await writeFile(join(deb, file.relative), next);
  }
  await mkdir(join(deb, 'DEBIAN'));
  await writeFile(
    join(deb, 'DEBIAN', 'control'),
    'Package: bench-package\nVersion: 2.0-1\nArchitecture: amd64\nMaintainer: bench <bench@localhost>\nDescription: the changed package\n',
  );
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', deb, `${deb}.deb`], {
    stdio: 'ignore',
  });
  return { directory: dir, files: files.length, bytes, debBytes: (await stat(`${deb}.deb`)).size };
}

function publisherAt(base: string, name: string, keys: string): EmbeddedPublisher {
  return createEmbeddedPublisher({
    storage: join(base, 'srv', name),
    keysDir: keys,
    spoolDir: join(base, 'spool', name),
  });
}

async function benchPromotion(base: string, quick: boolean) {
  const keys = join(base, 'keys');
  const shape = quick ? QUICK_SHAPE : FULL_SHAPE;
  say(`generating the ${quick ? 'quick' : 'full'} tree`);
  const tree = await generateTree(join(base, 'tree'), shape);
  const dev = publisherAt(base, 'dev.example.org', keys);
  const prodDirectory = publisherAt(base, 'prod.example.org', keys);
  const prodHttp = publisherAt(base, 'prodhttp.example.org', keys);
  for (const publisher of [dev, prodDirectory, prodHttp])
    await publisher.init({ whitelistDays: 30 });
  say('publishing v1 in dev, promoting it to prod (directory and HTTP)');
  await dev.publish({ tree: tree.root, tag: 'v1' });
  const keyOf = async (name: string) => [await loadPublicKey(join(keys, `${name}.pub`))];
  const open = async (location: string) =>
    openVerifiedRepository(openSource(location), {
      masterKeys: await keyOf('dev.example.org'),
      fqrn: 'dev.example.org',
    });
  const devStorage = join(base, 'srv', 'dev.example.org');
  const server = await serve([devStorage]);
  try {
    const sources = { directory: devStorage, http: `${server.url}/dev.example.org` };
    for (const [publisher, location] of [
      [prodDirectory, sources.directory],
      [prodHttp, sources.http],
    ] as const) {
      const source = await open(location);
      await publisher.importSnapshot({
        source,
        rootHash: (await source.resolve('v1')).rootHash,
        tag: 'v1',
      });
      source.close();
    }
    const changed = await changePackage(tree, base);
    say(
      `changed one package (${changed.files} files, ${changed.bytes} bytes); publishing v2 in dev`,
    );
    await dev.publish({ tree: tree.root, tag: 'v2' });
    const promoteTo = async (publisher: EmbeddedPublisher, location: string) => {
      const source = await open(location);
      try {
        const started = process.hrtime.bigint();
        const result = await publisher.importSnapshot({
          source,
          rootHash: (await source.resolve('v2')).rootHash,
          tag: 'v2',
          rollingTags: ['HEAD'],
        });
        return { seconds: Number(process.hrtime.bigint() - started) / 1e9, stats: result.stats };
      } finally {
        source.close();
      }
    };
    say('promoting v2 (directory, then HTTP)');
    const directory = await promoteTo(prodDirectory, sources.directory);
    const http = await promoteTo(prodHttp, sources.http);
    say('publishing the same tree from scratch into a fresh repository');
    const fresh = publisherAt(base, 'fresh.example.org', join(base, 'fresh-keys'));
    await fresh.init({ whitelistDays: 30 });
    const started = process.hrtime.bigint();
    const full = await fresh.publish({ tree: tree.root, tag: 'v2' });
    const fullSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const ratio = (seconds: number) => round(seconds / fullSeconds, 4);
    return {
      tree: { files: tree.files.length, bytes: tree.files.reduce((s, f) => s + f.size, 0) },
      changedPackage: changed,
      fullPublish: { seconds: round(fullSeconds, 3), objectsWritten: full.stats.objectsWritten },
      promotionFromDirectory: {
        seconds: round(directory.seconds, 3),
        ratioToFullPublish: ratio(directory.seconds),
        goal: GOALS.promotionToFullPublish,
        met: ratio(directory.seconds) < GOALS.promotionToFullPublish,
        stats: directory.stats,
        bytesToPackageDeb: round(directory.stats.bytesCopied / changed.debBytes, 3),
        dataBytesToPackageDeb: round(
          (directory.stats.bytesCopied - directory.stats.catalogBytesCopied) / changed.debBytes,
          3,
        ),
      },
      promotionOverHttp: {
        seconds: round(http.seconds, 3),
        ratioToFullPublish: ratio(http.seconds),
        goal: GOALS.promotionToFullPublish,
        met: ratio(http.seconds) < GOALS.promotionToFullPublish,
        stats: http.stats,
        bytesToPackageDeb: round(http.stats.bytesCopied / changed.debBytes, 3),
        dataBytesToPackageDeb: round(
          (http.stats.bytesCopied - http.stats.catalogBytesCopied) / changed.debBytes,
          3,
        ),
      },
    };
  } finally {
    server.close();
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const startedAt = new Date();
  const base = await mkdtemp(join(os.tmpdir(), 'ucvm-bench-reconcile-'));
  try {
    const noOp = await benchNoOp(join(base, 'noop'));
    const promotion =
      process.env.BENCH_ONLY === 'noop'
        ? undefined
        : await benchPromotion(join(base, 'promotion'), quick);
    const report = {
      benchmark: 'reconcile',
      startedAt: startedAt.toISOString(),
      quick,
      machine: await describeMachine(),
      goals: GOALS,
      noOp,
      promotion,
    };
    const text = `${JSON.stringify(report, null, 2)}\n`;
    await mkdir(RESULTS, { recursive: true });
    const file = join(RESULTS, `reconcile-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(file, text);
    process.stdout.write(text);
    say(`wrote ${file}`);
  } finally {
    if (process.env.BENCH_KEEP === '1') say(`kept ${base}`);
    else await rm(base, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
