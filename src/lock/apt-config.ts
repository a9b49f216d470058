import path from 'node:path';
import type { SourceEntry } from '../packages/apt/index.js';

/**
 * Where the private apt of `ucvm lock` keeps its state. Nothing of the machine's apt state is
 * read or written: its own lists, caches, an empty dpkg status (nothing is installed, so apt
 * resolves the whole system) and its own sources and preferences.
 */
export interface AptLayout {
  dir: string;
  /** The apt.conf passed with `-c`: read after the machine's configuration, so it wins. */
  config: string;
  sourceParts: string;
  sources: string;
  preferences: string;
  preferenceParts: string;
  status: string;
  state: string;
  lists: string;
  cache: string;
}

export function aptLayout(stateDir: string): AptLayout {
  const dir = path.resolve(stateDir);
  return {
    dir,
    config: path.join(dir, 'apt.conf'),
    sourceParts: path.join(dir, 'sources.list.d'),
    sources: path.join(dir, 'sources.list.d', 'ucvm.sources'),
    preferences: path.join(dir, 'preferences'),
    preferenceParts: path.join(dir, 'preferences.d'),
    status: path.join(dir, 'status'),
    state: path.join(dir, 'state'),
    lists: path.join(dir, 'state', 'lists'),
    cache: path.join(dir, 'cache'),
  };
}

function quote(value: string): string {
  if (/["\n\r]/.test(value)) throw new Error(`cannot write ${JSON.stringify(value)} to apt.conf`);
  return `"${value}"`;
}

/**
 * The private apt configuration. The machine's apt.conf.d still applies (proxies, retries),
 * except what would change the answer or run something: architectures, default release,
 * recommends, and update hooks are set here.
 */
export function aptConfigText(layout: AptLayout, architecture: string): string {
  const settings: [string, string][] = [
    ['Dir::State', layout.state],
    ['Dir::State::status', layout.status],
    ['Dir::Cache', layout.cache],
    ['Dir::Etc::SourceList', path.join(layout.dir, 'sources.list')],
    ['Dir::Etc::SourceParts', layout.sourceParts],
    ['Dir::Etc::Preferences', layout.preferences],
    ['Dir::Etc::PreferencesParts', layout.preferenceParts],
    ['APT::Architecture', architecture],
    ['APT::Default-Release', ''],
    ['APT::Install-Recommends', 'false'],
    ['APT::Install-Suggests', 'false'],
    ['Acquire::Languages', 'none'],
    ['Debug::NoLocking', 'true'],
  ];
  return [
    '// Written by ucvm lock: a private apt that resolves a whole system from nothing.',
    ...settings.map(([key, value]) => `${key} ${quote(value)};`),
    // Only the manifest's architecture: no foreign architectures from dpkg.
    '#clear APT::Architectures;',
    `APT::Architectures { ${quote(architecture)}; };`,
    '#clear APT::Update::Pre-Invoke;',
    '#clear APT::Update::Post-Invoke;',
    '#clear APT::Update::Post-Invoke-Success;',
    '',
  ].join('\n');
}

/** deb822 `Signed-By`: keyring paths and fingerprints, or an inline key folded as apt expects. */
function signedByField(source: SourceEntry): string | undefined {
  const signedBy = source.signedBy;
  if (signedBy === undefined) return undefined;
  if (signedBy.inlineKey !== undefined) {
    const lines = signedBy.inlineKey.trimEnd().split('\n');
    return `Signed-By:\n${lines.map((line) => ` ${line.trim() === '' ? '.' : line}`).join('\n')}`;
  }
  return `Signed-By: ${[...signedBy.keyrings, ...signedBy.fingerprints].join(' ')}`;
}

/** The sources as one deb822 file, in priority order, each with its own `Signed-By`. */
export function sourcesText(sources: readonly SourceEntry[]): string {
  const paragraphs = sources.map((source) => {
    const lines = [
      'Types: deb',
      `URIs: ${source.uri}`,
      `Suites: ${source.suite}`,
      `Components: ${source.components.join(' ')}`,
    ];
    if (source.architectures !== undefined)
      lines.push(`Architectures: ${source.architectures.join(' ')}`);
    const signedBy = signedByField(source);
    if (signedBy !== undefined) lines.push(signedBy);
    return lines.join('\n');
  });
  return `${paragraphs.join('\n\n')}\n`;
}

/**
 * An apt preferences file that holds every given package at its version: priority 1001 makes
 * apt take exactly that version when it is still in the archive (even over a newer one).
 */
export function preferencesText(pins: ReadonlyMap<string, string>): string {
  return [...pins]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, version]) => `Package: ${name}\nPin: version ${version}\nPin-Priority: 1001\n`)
    .join('\n');
}
