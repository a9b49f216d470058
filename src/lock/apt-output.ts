/** One package of a simulated install: `Inst name (version release… [arch])`. */
export interface ResolvedPackage {
  name: string;
  version: string;
  architecture: string;
}

// `Inst libc6 (2.36-9+deb12u4 Debian:12.5/stable [amd64])`, possibly with `[old version]` before
// the parenthesis and a trailing `[]` (broken-dependency marks).
const instLine = /^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) (?:[^[]*)\[([^\]\s]+)\]\)/;

/** The packages `apt-get -s install` would unpack, by name (an `:arch` suffix removed). */
export function parseSimulation(stdout: string): ResolvedPackage[] {
  const packages: ResolvedPackage[] = [];
  for (const line of stdout.split('\n')) {
    const match = instLine.exec(line);
    if (match === null) continue;
    const [, name = '', version = '', architecture = ''] = match;
    packages.push({ name: name.replace(/:[^:]+$/, ''), version, architecture });
  }
  return packages;
}

/** A dependency problem apt reports: `curl : Depends: libcurl4 (= 7.88) but 7.74 is to be installed`. */
export interface UnmetDependency {
  /** The package that has the relation. */
  package: string;
  /** The relation field: Depends, PreDepends, Conflicts, Breaks. */
  field: string;
  /** The first package named in the relation. */
  target: string;
  /** The whole line as apt wrote it, trimmed. */
  text: string;
}

/** The `The following packages have unmet dependencies:` block of apt's output. */
export function parseUnmetDependencies(output: string): UnmetDependency[] {
  const lines = output.split('\n');
  const start = lines.findIndex((line) => line.startsWith('The following packages have unmet'));
  if (start < 0) return [];
  const unmet: UnmetDependency[] = [];
  let current = '';
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' ')) break;
    const head = /^ (\S+) : (.*)$/.exec(line);
    if (head !== null) current = (head[1] ?? '').replace(/:[^:]+$/, '');
    const relation = (head?.[2] ?? line).trim();
    const match = /^([A-Za-z-]+): (\S+)/.exec(relation);
    if (match === null || current === '') continue;
    unmet.push({
      package: current,
      field: match[1] ?? '',
      target: (match[2] ?? '').replace(/:[^:]+$/, ''),
      text: `${current} : ${relation}`,
    });
  }
  return unmet;
}

/** What made apt refuse a request, for a message that names the package and apt's reason. */
export interface AptRefusal {
  kind: 'missing' | 'unsatisfiable' | 'other';
  /** Packages apt names as the problem (missing ones, or those with unmet dependencies). */
  packages: string[];
  /** apt's explanation: its `E:` lines and any notes that go with them. */
  reason: string;
}

/** Reads the reason out of a failed `apt-get -s install` (LC_ALL=C output). */
export function parseAptRefusal(stdout: string, stderr: string): AptRefusal {
  const errors = stderr
    .split('\n')
    .filter((line) => line.startsWith('E: '))
    .map((line) => line.slice(3));
  const missing = new Set<string>();
  for (const error of errors) {
    const match =
      /^Unable to locate package (\S+)$/.exec(error) ??
      /^Package '([^']+)' has no installation candidate$/.exec(error);
    if (match?.[1] !== undefined) missing.add(match[1]);
  }
  const notes = explanation(stdout);
  const reason = [...notes, ...errors].join('\n');
  if (missing.size > 0) return { kind: 'missing', packages: [...missing], reason };
  const unmet = parseUnmetDependencies(stdout);
  if (unmet.length > 0) {
    const packages = [...new Set(unmet.map((entry) => entry.package))];
    return { kind: 'unsatisfiable', packages, reason };
  }
  return { kind: 'other', packages: [], reason: reason === '' ? stderr.trim() : reason };
}

/** apt's stdout minus its progress lines: the notes that explain an error. */
function explanation(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter(
      (line) =>
        line.trim() !== '' &&
        !/^(?:Reading package lists|Building dependency tree|Reading state information)/.test(
          line,
        ) &&
        !/^(?:Inst|Conf|Remv) /.test(line),
    )
    .map((line) => line.trimEnd());
}

/** `N:`, `W:` and `E:` lines of `apt-get update`; failures to fetch or verify are errors. */
export function updateProblems(stderr: string): { errors: string[]; signature: boolean } {
  const lines = stderr.split('\n');
  const errors = lines.filter(
    (line) =>
      line.startsWith('E: ') ||
      (line.startsWith('W: ') &&
        /Failed to fetch|GPG error|not signed|Some index files failed|signatures? (?:were|was) invalid|NO_PUBKEY/.test(
          line,
        )),
  );
  const signature = errors.some((line) =>
    /GPG error|not signed|NO_PUBKEY|EXPKEYSIG|signatures? (?:were|was) invalid|BADSIG|Signed-By/.test(
      line,
    ),
  );
  return { errors: errors.map((line) => line.slice(3)), signature };
}
