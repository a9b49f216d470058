/**
 * `npm run bench` (build part): building the demo manifest's tree with a warm cache, side by
 * side in the same run with plain mmdebstrap given the same package list from the same .deb
 * files (a local repository, so neither side downloads). Goal: ucvm ≤ 1.2 × mmdebstrap.
 * A single install varies by a quarter from run to run on a shared 2-core machine, so the two
 * alternate for `--rounds` rounds (default 3) and the medians are compared.
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
import { buildChannel } from '../src/template/channel.js';
import { localRelease } from '../src/template/local-repo.js';
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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function debFileName(name: string, version: string, architecture: string): string {
  return `${name}_${version.replace(/:/g, '%3a')}_${architecture}.deb`;
}

async function main(): Promise<void> {
  const channel =
    process.argv.find((arg) => arg.startsWith('--channel='))?.slice('--channel='.length) ??
    'production';
  const rounds = Number(
    process.argv.find((arg) => arg.startsWith('--rounds='))?.slice('--rounds='.length) ?? 3,
  );
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a positive integer');
  const work = mkdtempSync(path.join(os.tmpdir(), 'ucvm-bench-build-'));
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  try {
    say(`warming the cache: one build of ${channel}`);
    const warm = await buildChannel({ root, channel, out: path.join(work, 'warm') });
    rmSync(warm.build.out, { recursive: true, force: true });

    // The same .deb files, as a local repository for plain mmdebstrap (not timed: it is the
    // equivalent of ucvm's warm cache).
    const manifest = warm.manifest;
    const mirror = path.join(work, 'mirror');
    mkdirSync(path.join(mirror, 'pool'), { recursive: true });
    const cache = path.join(defaultAptCacheDir(), 'debs');
    const architecture = manifest.base.architecture;
    const available = new Set(readdirSync(cache));
    const include: string[] = [];
    for (const [name, version] of Object.entries(manifest.packages)) {
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
    const suite = manifest.base.suite;
    const index = path.join(mirror, 'dists', suite, 'main', `binary-${architecture}`);
    mkdirSync(index, { recursive: true });
    writeFileSync(path.join(index, 'Packages'), packagesText);
    writeFileSync(
      path.join(mirror, 'dists', suite, 'Release'),
      localRelease(suite, architecture, packagesText),
    );

    const ucvmRuns: number[] = [];
    const plainRuns: number[] = [];
    // A second reference, for the record: mmdebstrap with dpkg's fsync off, as ucvm runs it.
    const unsafeRuns: number[] = [];
    let ucvmTree: TreeStats | undefined;
    let plainTree: TreeStats | undefined;
    for (let round = 1; round <= rounds; round++) {
      say(`round ${round}/${rounds}: ucvm build (warm cache)`);
      const out = path.join(work, 'ucvm');
      const started = process.hrtime.bigint();
      await buildChannel({ root, channel, out });
      ucvmRuns.push(Number(process.hrtime.bigint() - started) / 1e9);
      ucvmTree = treeStats(out);
      rmSync(out, { recursive: true, force: true });

      for (const unsafeIo of [false, true]) {
        say(
          `round ${round}/${rounds}: plain mmdebstrap${unsafeIo ? ' with force-unsafe-io' : ''}, same package list, same files`,
        );
        const plain = path.join(work, 'plain');
        const started = process.hrtime.bigint();
        execFileSync(
          'mmdebstrap',
          [
            '--mode=root',
            '--variant=essential',
            '--format=directory',
            `--architectures=${architecture}`,
            '--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr',
            ...(unsafeIo ? ['--dpkgopt=force-unsafe-io'] : []),
            `--include=${include.join(',')}`,
            '--quiet',
            suite,
            plain,
            `deb [trusted=yes] copy://${mirror} ${suite} main`,
          ],
          { stdio: ['ignore', 'ignore', 'inherit'] },
        );
        (unsafeIo ? unsafeRuns : plainRuns).push(Number(process.hrtime.bigint() - started) / 1e9);
        plainTree = treeStats(plain);
        rmSync(plain, { recursive: true, force: true });
      }
    }
    const ucvmSeconds = median(ucvmRuns);
    const plainSeconds = median(plainRuns);
    const ratio = ucvmSeconds / plainSeconds;
    const report = {
      benchmark: 'build',
      channel,
      system: `${manifest.system.name}-${manifest.system.version}`,
      packages: Object.keys(manifest.packages).length,
      rounds,
      machine: { nproc: os.cpus().length, node: process.version },
      goal: {
        ucvmToMmdebstrap: GOAL,
        meaning:
          'median ucvm build seconds (warm cache) / median plain mmdebstrap seconds, same package list and .deb files, runs alternating',
      },
      ucvm: { seconds: ucvmSeconds, runs: ucvmRuns, tree: ucvmTree },
      mmdebstrap: { seconds: plainSeconds, runs: plainRuns, tree: plainTree },
      mmdebstrapUnsafeIo: {
        seconds: median(unsafeRuns),
        runs: unsafeRuns,
        ratio: ucvmSeconds / median(unsafeRuns),
        meaning:
          'plain mmdebstrap with --dpkgopt=force-unsafe-io, as ucvm runs dpkg (not the goal)',
      },
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
      `ucvm ${ucvmSeconds.toFixed(1)} s, mmdebstrap ${plainSeconds.toFixed(1)} s (medians of ${rounds}), ratio ${ratio.toFixed(2)} (goal ≤ ${GOAL}); tree ${ucvmTree?.files} files, ${((ucvmTree?.bytes ?? 0) / 1e6).toFixed(1)} MB`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
