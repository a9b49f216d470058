import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../errors.js';
import { run } from '../exec/index.js';
import type { Logger } from '../log.js';
import type { SourceEntry } from '../packages/apt/index.js';
import { aptConfigText, aptLayout, preferencesText, sourcesText } from './apt-config.js';
import type { AptLayout } from './apt-config.js';
import {
  parseAptRefusal,
  parseSimulation,
  parseUnmetDependencies,
  updateProblems,
} from './apt-output.js';
import type { ResolvedPackage } from './apt-output.js';
import { withStateLock } from './state-lock.js';

export interface AptResolveRequest {
  /** Private state directory (created if needed; its lists are reused by the next run). */
  stateDir: string;
  architecture: string;
  sources: readonly SourceEntry[];
  /** The packages asked for; every Essential package of the archive is added. */
  roots: readonly string[];
  /** Versions to keep where the archive still has them and dependencies allow. */
  pins: ReadonlyMap<string, string>;
  logger: Logger;
}

export interface AptResolution {
  packages: ResolvedPackage[];
  /** Pins that had to go so that the request could be satisfied (name → pinned version). */
  released: Map<string, string>;
}

// apt prints parseable English only in the C locale.
const aptEnv = { LC_ALL: 'C', LANG: 'C', LANGUAGE: '' };

/** Writes the private configuration and sources, then runs `apt-get update` (apt verifies). */
export async function prepareApt(request: AptResolveRequest): Promise<AptLayout> {
  await checkKeyrings(request.sources);
  const layout = aptLayout(request.stateDir);
  for (const dir of [
    layout.sourceParts,
    layout.preferenceParts,
    path.join(layout.lists, 'partial'),
    path.join(layout.cache, 'archives', 'partial'),
  ])
    await mkdir(dir, { recursive: true });
  await writeFile(layout.config, aptConfigText(layout, request.architecture));
  await writeFile(layout.sources, sourcesText(request.sources));
  await writeFile(layout.status, '');
  await writeFile(layout.preferences, '');
  request.logger.info('updating the package lists', { sources: request.sources.length });
  const result = await run('apt-get', ['-c', layout.config, '-q', 'update'], {
    env: aptEnv,
    okExitCodes: [0, 100],
  });
  const problems = updateProblems(result.stderr);
  if (result.exitCode !== 0 || problems.errors.length > 0) {
    const reason = problems.errors.join('\n') || result.stderr.trim();
    throw new UcvmError(
      problems.signature ? 'RELEASE_SIGNATURE' : 'COMMAND_FAILED',
      problems.signature
        ? 'apt could not verify the package sources'
        : 'apt could not update the package lists',
      { details: `${reason}\nState directory: ${layout.dir}` },
    );
  }
  return layout;
}

/** A missing Signed-By keyring would make apt say only "NO_PUBKEY": name the file instead. */
async function checkKeyrings(sources: readonly SourceEntry[]): Promise<void> {
  for (const source of sources) {
    for (const keyring of source.signedBy?.keyrings ?? []) {
      try {
        await access(keyring);
      } catch {
        throw new UcvmError('KEY_MISSING', `keyring ${keyring} not found`, {
          details: `It is the Signed-By of ${source.uri} ${source.suite}${source.file === undefined ? '' : ` (${source.file})`}.`,
        });
      }
    }
  }
}

/**
 * Asks apt what installing the roots (and every Essential package) on an empty system unpacks.
 * Pinned versions are kept through a preferences file; when a pin makes the request
 * unsatisfiable, the pins apt names in its unmet dependencies are released and apt is asked
 * again, so only what must move moves.
 */
export async function resolveWithApt(request: AptResolveRequest): Promise<AptResolution> {
  return withStateLock(request.stateDir, () => resolve(request));
}

async function resolve(request: AptResolveRequest): Promise<AptResolution> {
  const layout = await prepareApt(request);
  const pins = new Map(request.pins);
  const released = new Map<string, string>();
  for (;;) {
    await writeFile(layout.preferences, preferencesText(pins));
    const result = await simulate(layout, request.roots);
    if (result.exitCode === 0) return { packages: parseSimulation(result.stdout), released };
    const refusal = parseAptRefusal(result.stdout, result.stderr);
    const loosen = refusal.kind === 'unsatisfiable' ? pinsToRelease(result.stdout, pins) : [];
    if (loosen.length === 0) throw refusalError(refusal);
    for (const name of loosen) {
      const version = pins.get(name) ?? '';
      request.logger.info('released a pinned version to satisfy dependencies', {
        package: name,
        version,
      });
      released.set(name, version);
      pins.delete(name);
    }
  }
}

async function simulate(layout: AptLayout, roots: readonly string[]) {
  return run(
    'apt-get',
    ['-c', layout.config, '-s', '-q', 'install', '--no-install-recommends', '?essential', ...roots],
    { env: aptEnv, okExitCodes: [0, 100] },
  );
}

/** For each unmet relation: release the pin of its target, else of the package that has it. */
function pinsToRelease(stdout: string, pins: ReadonlyMap<string, string>): string[] {
  const names = new Set<string>();
  for (const entry of parseUnmetDependencies(stdout)) {
    const name = [entry.target, entry.package].find((candidate) => pins.has(candidate));
    if (name !== undefined) names.add(name);
  }
  return [...names];
}

function refusalError(refusal: ReturnType<typeof parseAptRefusal>): UcvmError {
  const names = refusal.packages.join(', ');
  if (refusal.kind === 'missing') {
    return new UcvmError(
      'PACKAGE_MISSING',
      `apt cannot install ${names}: no such package, or nothing to install for it`,
      {
        details: `${refusal.reason}\nCheck the name (a virtual package needs one of its providers), or the sources for base.suite.`,
      },
    );
  }
  if (refusal.kind === 'unsatisfiable') {
    return new UcvmError('PACKAGE_CLOSURE', `apt cannot satisfy the dependencies of ${names}`, {
      details: refusal.reason,
    });
  }
  return new UcvmError('PACKAGE_CLOSURE', 'apt cannot resolve the requested packages', {
    details: refusal.reason,
  });
}
