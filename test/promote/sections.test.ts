import { describe, expect, it } from 'vitest';
import { copySections, setScalar, setSection } from '../../src/promote/sections.js';

const target = `# The testing channel.
channel: testing
system:
  name: cernvm-system
  version: 1.1.0 # the release candidate
# What we ask for.
install:
  - bash
packages:
  bash: "5.2" # pinned by ucvm lock
hotfix:
  reason: old
`;

const source = `# The development channel.
channel: development
system:
  name: cernvm-system
  version: 1.2.0
install:
  - bash
# Pinned.
packages:
  bash: "5.3"
  curl: "7.88"
files:
  - path: /etc/motd
    content: hi
`;

describe('copySections', () => {
  it('takes the differing sections from the source, keeps the rest byte for byte', () => {
    const same = (key: string) => key === 'install';
    const result = copySections(target, source, ['system', 'install', 'packages', 'files'], same, [
      'hotfix',
    ]);
    expect(result).toBe(`# The testing channel.
channel: testing
system:
  name: cernvm-system
  version: 1.2.0
# What we ask for.
install:
  - bash
# Pinned.
packages:
  bash: "5.3"
  curl: "7.88"
files:
  - path: /etc/motd
    content: hi
`);
  });

  it('leaves a section with the same value as it is written, and drops one the source lacks', () => {
    const result = copySections(target, source, ['install', 'packages', 'base'], () => true);
    expect(result).toBe(target);
    const withBase = `${target}base:\n  suite: bookworm\n`;
    expect(copySections(withBase, source, ['base'], () => false)).toBe(target);
  });
});

describe('setScalar and setSection', () => {
  it('changes one scalar in place, keeping quotes and comments', () => {
    expect(setScalar(target, ['system', 'version'], '1.1.1')).toContain(
      '  version: 1.1.1 # the release candidate\n',
    );
    expect(setScalar(target, ['packages', 'bash'], '5.2.1')).toContain(
      '  bash: "5.2.1" # pinned by ucvm lock\n',
    );
  });

  it('replaces a section or appends it', () => {
    const replaced = setSection(target, 'hotfix', 'hotfix:\n  reason: DSA-1\n');
    expect(replaced.endsWith('hotfix:\n  reason: DSA-1\n')).toBe(true);
    expect(replaced.match(/hotfix:/g)).toHaveLength(1);
    expect(setSection(source, 'hotfix', 'hotfix:\n  reason: x\n')).toBe(
      `${source}hotfix:\n  reason: x\n`,
    );
  });
});
