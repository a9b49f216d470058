import { describe, expect, it } from 'vitest';
import {
  aptConfigText,
  aptLayout,
  parseAptRefusal,
  parseSimulation,
  parseUnmetDependencies,
  preferencesText,
  sourcesForBase,
  sourcesText,
} from '../../src/lock/index.js';
import type { SourceEntry } from '../../src/packages/apt/index.js';

// Recorded from apt 2.6 (LC_ALL=C) on Debian bookworm.
const simulation = `Reading package lists...
Building dependency tree...
The following NEW packages will be installed:
  libc6 vim vim-common
0 upgraded, 3 newly installed, 0 to remove and 0 not upgraded.
Inst vim-common (2:9.0.1378-2+deb12u2 Debian:12.15/oldstable [all])
Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64]) []
Inst ca-certificates (20250419~deb12u2 Debian-Security:12/oldstable-security, Debian:12.15/oldstable [all])
Inst libfoo:amd64 [1.0-1] (1.1-1 local [amd64])
Conf vim-common (2:9.0.1378-2+deb12u2 Debian:12.15/oldstable [all])
`;

const unmet = `Reading package lists...
Building dependency tree...
Some packages could not be installed. This may mean that you have
requested an impossible situation or if you are using the unstable
distribution that some required packages have not yet been created
or been moved out of Incoming.
The following information may help to resolve the situation:

The following packages have unmet dependencies:
 curl : Depends: libcurl4 (= 7.88.1-10+deb12u12) but 7.88.1-10+deb12u5 is to be installed
        Depends: libssl3 (>= 3.0.0) but it is not going to be installed
 broken : Depends: libgone but it is not installable
`;

describe('parseSimulation', () => {
  it('reads name, version with epoch, and architecture of every Inst line', () => {
    expect(parseSimulation(simulation)).toEqual([
      { name: 'vim-common', version: '2:9.0.1378-2+deb12u2', architecture: 'all' },
      { name: 'libc6', version: '2.36-9+deb12u14', architecture: 'amd64' },
      { name: 'ca-certificates', version: '20250419~deb12u2', architecture: 'all' },
      { name: 'libfoo', version: '1.1-1', architecture: 'amd64' },
    ]);
  });
});

describe('apt refusals', () => {
  it('reads the unmet dependencies block', () => {
    expect(parseUnmetDependencies(unmet)).toEqual([
      {
        package: 'curl',
        field: 'Depends',
        target: 'libcurl4',
        text: 'curl : Depends: libcurl4 (= 7.88.1-10+deb12u12) but 7.88.1-10+deb12u5 is to be installed',
      },
      {
        package: 'curl',
        field: 'Depends',
        target: 'libssl3',
        text: 'curl : Depends: libssl3 (>= 3.0.0) but it is not going to be installed',
      },
      {
        package: 'broken',
        field: 'Depends',
        target: 'libgone',
        text: 'broken : Depends: libgone but it is not installable',
      },
    ]);
    const refusal = parseAptRefusal(
      unmet,
      'E: Unable to correct problems, you have held broken packages.\n',
    );
    expect(refusal.kind).toBe('unsatisfiable');
    expect(refusal.packages).toEqual(['curl', 'broken']);
    expect(refusal.reason).toContain('broken : Depends: libgone but it is not installable');
  });

  it('names missing packages and keeps apt explanation', () => {
    const stdout = `Reading package lists...
Building dependency tree...
Package awk is a virtual package provided by:
  mawk 1.3.4.20200120-3.1
  gawk 1:5.2.1-2

`;
    const stderr = `E: Unable to locate package nonexist
E: Package 'awk' has no installation candidate
`;
    const refusal = parseAptRefusal(stdout, stderr);
    expect(refusal).toMatchObject({ kind: 'missing', packages: ['nonexist', 'awk'] });
    expect(refusal.reason.split('\n')).toEqual([
      'Package awk is a virtual package provided by:',
      '  mawk 1.3.4.20200120-3.1',
      '  gawk 1:5.2.1-2',
      'Unable to locate package nonexist',
      "Package 'awk' has no installation candidate",
    ]);
  });
});

const debian: SourceEntry = {
  uri: 'http://deb.debian.org/debian',
  suite: 'bookworm',
  components: ['main'],
  signedBy: { keyrings: ['/usr/share/keyrings/debian-archive-keyring.gpg'], fingerprints: [] },
  types: ['deb'],
};

describe('private apt files', () => {
  it('writes a configuration with its own state and the machine config left for the rest', () => {
    const text = aptConfigText(aptLayout('/var/tmp/lock'), 'arm64');
    expect(text).toContain('Dir::State::status "/var/tmp/lock/status";');
    expect(text).toContain('Dir::Etc::SourceParts "/var/tmp/lock/sources.list.d";');
    expect(text).toContain('Dir::Etc::PreferencesParts "/var/tmp/lock/preferences.d";');
    expect(text).toContain('APT::Architecture "arm64";');
    expect(text).toContain('#clear APT::Architectures;\nAPT::Architectures { "arm64"; };');
    expect(text).toContain('APT::Install-Recommends "false";');
    expect(text).toContain('Debug::NoLocking "true";');
    expect(text).toContain('#clear APT::Update::Post-Invoke-Success;');
  });

  it('writes deb822 sources with Signed-By as given', () => {
    const security = {
      ...debian,
      uri: 'http://deb.debian.org/debian-security',
      suite: 'bookworm-security',
    };
    const inline: SourceEntry = {
      ...debian,
      uri: 'file:/srv/repo',
      signedBy: {
        keyrings: [],
        fingerprints: [],
        inlineKey:
          '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n',
      },
      architectures: ['amd64'],
    };
    expect(sourcesText([debian, security, inline])).toBe(`Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: file:/srv/repo
Suites: bookworm
Components: main
Architectures: amd64
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZ
 -----END PGP PUBLIC KEY BLOCK-----
`);
  });

  it('pins each package at its version with priority 1001', () => {
    expect(
      preferencesText(
        new Map([
          ['vim', '2:9.0-2'],
          ['bash', '5.2-1'],
        ]),
      ),
    ).toBe(
      'Package: bash\nPin: version 5.2-1\nPin-Priority: 1001\n\nPackage: vim\nPin: version 2:9.0-2\nPin-Priority: 1001\n',
    );
    expect(preferencesText(new Map())).toBe('');
  });

  it('selects the sources of the base suite and architecture', () => {
    const sources: SourceEntry[] = [
      debian,
      { ...debian, suite: 'bookworm-updates' },
      { ...debian, suite: 'trixie' },
      { ...debian, uri: 'https://deb.nodesource.com/node_20.x', suite: 'nodistro' },
      { ...debian, suite: 'bookworm-backports', architectures: ['arm64'] },
    ];
    const base = { distribution: 'debian', suite: 'bookworm', architecture: 'amd64' };
    expect(sourcesForBase(sources, base).map((source) => source.suite)).toEqual([
      'bookworm',
      'bookworm-updates',
    ]);
    expect(() => sourcesForBase(sources, { ...base, suite: 'bullseye' })).toThrow(
      'no apt source for bullseye (amd64)',
    );
  });
});
