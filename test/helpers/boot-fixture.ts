import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImage, type ImageBuildResult } from '../../src/image/build/build.js';
import type { RootSource } from '../../src/image/build/settings.js';
import { buildChannel } from '../../src/template/channel.js';
import { serveInChild, startUcvm } from './cli.js';
import { startSquid, type Squid } from './squid.js';

export const REPO = 'cernvm-dev.example.org';
/** Where the guest finds the site proxy: a guestfwd to the squid on the host's 127.0.0.1. */
export const PROXY_IP = '10.0.2.101';
export const PROXY_PORT = 3128;

export interface BootFixtureOptions {
  rootSource: RootSource;
  /** For the cvmfs root source: an archive of the client's files (pinned into image.yaml). */
  clientArchive?: string;
  /** The built CLI: the tests' and the benchmark's live in different places. */
  cli: string;
  /** The project whose manifests/development.yaml and pipeline/image.yaml are used. */
  projectRoot: string;
}

type Cli = (args: string[]) => Promise<string>;

export interface BootFixture {
  work: string;
  storage: string;
  keys: string;
  /** The OS tree as built, published as cernvm-system-1.2.0 (and edited into later versions). */
  tree: string;
  squid: Squid;
  server: { url: string; close(): Promise<void> };
  image: ImageBuildResult;
  project: string;
  rootSource: RootSource;
  cli: Cli;
  close(): Promise<void>;
}

/**
 * A project with the demo's development manifest and image inputs, its repository published
 * once (cernvm-system-1.2.0, HEAD; on the shelf too for the squashfs root source), served over
 * HTTP behind a real squid, and the channel's boot image built to read it through the proxy.
 */
export async function bootFixture(options: BootFixtureOptions): Promise<BootFixture> {
  const { rootSource, clientArchive, projectRoot } = options;
  const cli = cliRunner(options.cli);
  // Not helpers/tmp.ts: the benchmark uses this fixture outside vitest.
  const work = mkdtempSync(path.join(os.tmpdir(), 'ucvm-boot-'));
  const project = path.join(work, 'project');
  const storage = path.join(work, 'srv', REPO);
  const keys = path.join(work, 'keys');
  mkdirSync(path.join(project, 'pipeline'), { recursive: true });
  mkdirSync(path.join(project, 'manifests'), { recursive: true });
  copyFileSync(
    path.join(projectRoot, 'manifests/development.yaml'),
    path.join(project, 'manifests/development.yaml'),
  );
  copyFileSync(
    path.join(projectRoot, 'pipeline/image.yaml'),
    path.join(project, 'pipeline/image.yaml'),
  );
  await cli(['repo', 'init', storage, '--keys', keys]);

  const tree = path.join(work, 'tree');
  await buildChannel({ root: projectRoot, channel: 'development', out: tree });
  await publish(cli, { storage, keys, tree, rootSource }, 'cernvm-system-1.2.0');

  const server = await serveInChild([storage], options.cli);
  const squid = await startSquid();
  const port = new URL(server.url).port;
  writeFileSync(
    path.join(project, 'pipeline/pipeline.yaml'),
    [
      'repositories:',
      `  - { name: ${REPO}, backend: embedded, storage: ${storage}, keys: ${keys}, rollingTag: HEAD }`,
      `channels: { development: ${REPO} }`,
      'promotion: [development]',
      `pool: ${path.join(work, 'pool')}`,
      'image:',
      // The guest asks the proxy for 127.0.0.1:<port>, which the proxy (on the host) reaches.
      `  servers: [http://127.0.0.1:${port}/cvmfs/@fqrn@]`,
      `  proxy: http://${PROXY_IP}:${PROXY_PORT}`,
      '  cmdline: console=ttyS0',
      '',
    ].join('\n'),
  );
  if (clientArchive !== undefined)
    pinClient(path.join(project, 'pipeline/image.yaml'), clientArchive);
  const image = await buildImage({
    root: project,
    channel: 'development',
    rootSource,
    out: path.join(work, 'images'),
    formats: ['iso', 'qcow2'],
  });
  return {
    work,
    storage,
    keys,
    tree,
    squid,
    server,
    image,
    project,
    rootSource,
    cli,
    close: async () => {
      await squid.stop();
      await server.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

function pinClient(imageYaml: string, archive: string): void {
  const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
  const text = readFileSync(imageYaml, 'utf8');
  const client = `client: { archive: ${archive}, sha256: ${sha256}, version: 2.11.5 }\n`;
  writeFileSync(imageYaml, text.replace(/^packages:/m, `${client}packages:`));
}

/**
 * Runs the CLI without blocking this process: a publish of the OS takes longer than vitest
 * lets a worker go without answering (its RPC times out at 60 s).
 */
function cliRunner(cliPath: string): Cli {
  return async (args) => {
    const result = await startUcvm(args, {}, cliPath).done;
    if (result.status !== 0)
      throw new Error(`ucvm ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
}

type Published = Pick<BootFixture, 'storage' | 'keys' | 'tree' | 'rootSource'>;

async function publish(cli: Cli, fixture: Published, tag: string): Promise<void> {
  await cli([
    'repo',
    'publish',
    fixture.storage,
    fixture.tree,
    '--tag',
    tag,
    '--keys',
    fixture.keys,
  ]);
  await cli(['repo', 'tag', fixture.storage, 'HEAD', tag, '--keys', fixture.keys]);
  if (fixture.rootSource !== 'squashfs') return;
  // The shelf: one image per root hash, each tag in the index.
  for (const name of ['HEAD', tag]) {
    const shelf = path.join(fixture.storage, 'exports');
    await cli([
      'repo',
      'export',
      `${fixture.storage}@${name}`,
      '--shelf',
      shelf,
      '--keys',
      fixture.keys,
    ]);
  }
}

/** A new OS version: the tree's version marker renamed, published, HEAD moved to it. */
export async function publishNextVersion(
  fixture: BootFixture,
  from: string,
  to: string,
): Promise<void> {
  const marker = readdirSync(fixture.tree).find(
    (name) => name === `.installed_cernvm-system-${from}`,
  );
  if (marker === undefined) throw new Error(`the tree has no marker of ${from}`);
  renameSync(
    path.join(fixture.tree, marker),
    path.join(fixture.tree, `.installed_cernvm-system-${to}`),
  );
  await publish(fixture.cli, fixture, `cernvm-system-${to}`);
}

/** The root hash a tag points at, from `ucvm repo tags --json`. */
export async function rootHashOf(fixture: BootFixture, tag: string): Promise<string> {
  const listing = await fixture.cli([
    'repo',
    'tags',
    fixture.storage,
    '--keys',
    fixture.keys,
    '--json',
  ]);
  const { tags } = JSON.parse(listing) as { tags: Array<{ name: string; hashHex: string }> };
  const found = tags.find((entry) => entry.name === tag);
  if (found === undefined) throw new Error(`no tag ${tag}`);
  return found.hashHex;
}

/** A NoCloud drive (iso9660 labelled cidata) with the given user data. */
export function cidataDrive(dir: string, userData: string): string {
  const root = path.join(dir, 'cidata');
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'user-data'), userData);
  writeFileSync(path.join(root, 'meta-data'), 'instance-id: ucvm-test\n');
  const iso = path.join(dir, 'cidata.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'cidata', '-R', '-o', iso, root], {
    stdio: 'ignore',
  });
  return iso;
}

export function blankDisk(file: string, bytes = 4 * 1024 ** 3): string {
  execFileSync('truncate', ['-s', String(bytes), file]);
  return file;
}
