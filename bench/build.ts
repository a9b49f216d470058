/**
 * `npm run bench` (build part): building the demo manifest's tree with a warm cache, side by
 * side in the same run with plain mmdebstrap given the same package list from the same .deb
 * files (a local repository, so neither side downloads). Goal: ucvm ≤ 1.2 × mmdebstrap.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildChannel } from '../src/build/channel.js';
import { localRelease } from '../src/build/local-repo.js';
import { defaultAptCacheDir } from '../src/packages/apt/index.js';

const GOAL = 1.2;
const root = path.resolve(import.meta.dirname, '../..');

interface TreeStats {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

function treeStats(dir: string): TreeStats {
  const stats: TreeStats = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        stats.directories++;
        walk(full);
      } else if (entry.isSymbolicLink()) stats.symlinks++;
      else if (entry.isFile()) {
        stats.files++;
        stats.bytes += lstatSync(full).size;
      }
    }
  };
  walk(dir);
  return stats;
}

function debFileName(name: string, version: string, architecture: string): string {
  return `${name}_${version.replace(/:/g, '%3a')}_${architecture}.deb`;
}

async function main(): Promise<void> {
  const channel =
    process.argv.find((arg) => arg.startsWith('--channel='))?.slice('--channel='.length) ??
    'production';
  const work = mkdtempSync(path.join(os.tmpdir(), 'ucvm-bench-build-'));
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  try {
    say(`warming the cache: one build of ${channel}`);
    const warm = await buildChannel({ root, channel, out: path.join(work, 'warm') });
    rmSync(warm.build.out, { recursive: true, force: true });

    say('ucvm build (warm cache)');
    let started = process.hrtime.bigint();
    const timed = await buildChannel({ root, channel, out: path.join(work, 'ucvm') });
    const ucvmSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const ucvmTree = treeStats(timed.build.out);

    // The same .deb files, as a local repository for plain mmdebstrap (not timed: it is the
    // equivalent of ucvm's warm cache).
    const mirror = path.join(work, 'mirror');
    mkdirSync(path.join(mirror, 'pool'), { recursive: true });
    const cache = path.join(defaultAptCacheDir(), 'debs');
    const architecture = timed.manifest.base.architecture;
    const available = new Set(readdirSync(cache));
    const include: string[] = [];
    for (const [name, version] of Object.entries(timed.manifest.packages)) {
      const file = [
        debFileName(name, version, architecture),
        debFileName(name, version, 'all'),
      ].find((candidate) => available.has(candidate));
      if (file === undefined)
        throw new Error(`${name} ${version} is not in the apt cache ${cache}`);
      copyFileSync(path.join(cache, file), path.join(mirror, 'pool', file));
      // mmdebstrap's merged-/usr hook installs usr-is-merged itself, after the essential set.
      if (name !== 'usr-is-merged') include.push(`${name}=${version}`);
    }
    const packagesText = execFileSync(
      'dpkg-scanpackages',
      ['--multiversion', 'pool', '/dev/null'],
      { cwd: mirror, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 },
    ).toString();
    const suite = timed.manifest.base.suite;
    const index = path.join(mirror, 'dists', suite, 'main', `binary-${architecture}`);
    mkdirSync(index, { recursive: true });
    writeFileSync(path.join(index, 'Packages'), packagesText);
    writeFileSync(
      path.join(mirror, 'dists', suite, 'Release'),
      localRelease(suite, architecture, packagesText),
    );

    say('plain mmdebstrap, same package list, same files');
    const plain = path.join(work, 'plain');
    started = process.hrtime.bigint();
    execFileSync(
      'mmdebstrap',
      [
        '--mode=root',
        '--variant=essential',
        '--format=directory',
        `--architectures=${architecture}`,
        '--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr',
        `--include=${include.join(',')}`,
        '--quiet',
        suite,
        plain,
        `deb [trusted=yes] copy://${mirror} ${suite} main`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const plainSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const plainTree = treeStats(plain);

    const ratio = ucvmSeconds / plainSeconds;
    const report = {
      benchmark: 'build',
      channel,
      system: `${timed.manifest.system.name}-${timed.manifest.system.version}`,
      packages: Object.keys(timed.manifest.packages).length,
      machine: { nproc: os.cpus().length, node: process.version },
      goal: {
        ucvmToMmdebstrap: GOAL,
        meaning:
          'ucvm build seconds (warm cache) / plain mmdebstrap seconds, same package list and .deb files',
      },
      ucvm: { seconds: ucvmSeconds, tree: ucvmTree },
      mmdebstrap: { seconds: plainSeconds, tree: plainTree },
      ratio,
      met: ratio <= GOAL,
    };
    const json = JSON.stringify(report, null, 2);
    mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(
      path.join(
        root,
        'bench',
        'results',
        `build-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
      ),
      `${json}\n`,
    );
    process.stdout.write(`${json}\n`);
    say(
      `ucvm ${ucvmSeconds.toFixed(1)} s, mmdebstrap ${plainSeconds.toFixed(1)} s, ratio ${ratio.toFixed(2)} (goal ≤ ${GOAL}); tree ${ucvmTree.files} files, ${(ucvmTree.bytes / 1e6).toFixed(1)} MB`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
