import { describe, expect, it } from 'vitest';
import { writeLockedSet } from '../../src/lock/index.js';

const head = `# yaml-language-server: $schema=../schemas/manifest.schema.json
channel: testing # the channel
base: {distribution: debian, suite: bookworm, architecture: amd64}
`;

function lock(install: string[], packages: Record<string, string>) {
  return { install, packages: new Map(Object.entries(packages)) };
}

describe('writeLockedSet', () => {
  it('returns the text unchanged when nothing changes, whatever its style', () => {
    const text = `${head}install: [bash]  # roots
packages:   # pinned
  # essential
  bash:    '5.2'   # shell
  libc6: "2.36-9"
files: []
`;
    expect(writeLockedSet(text, lock(['bash'], { bash: '5.2', libc6: '2.36-9' }))).toBe(text);
    // 0:5.2 is the same version as 5.2 for dpkg: no change.
    expect(writeLockedSet(text, lock(['bash'], { bash: '0:5.2', libc6: '2.36-9' }))).toBe(text);
  });

  it('adds install before packages and packages before files, with the comments above them', () => {
    const text = `${head}# extra files
files:
  - path: /etc/motd
    content: hi
`;
    expect(writeLockedSet(text, lock(['zsh', 'bash'], { zsh: '5.9', bash: '2.36' }))).toBe(
      `${head}install:
  - bash
  - zsh
packages:
  bash: "2.36"
  zsh: "5.9"
# extra files
files:
  - path: /etc/motd
    content: hi
`,
    );
  });

  it('fills an empty or null packages and appends at the end when there is no files', () => {
    const install = 'install:\n  - bash\n';
    expect(
      writeLockedSet(`${head}${install}packages: {}\n`, lock(['bash'], { bash: '5.2-1' })),
    ).toBe(`${head}${install}packages:\n  bash: 5.2-1\n`);
    expect(writeLockedSet(`${head}${install}packages:`, lock(['bash'], { bash: '5.2-1' }))).toBe(
      `${head}${install}packages:\n  bash: 5.2-1\n`,
    );
    expect(writeLockedSet(`${head}${install}`, lock(['bash'], { bash: '1:2' }))).toBe(
      `${head}${install}packages:\n  bash: 1:2\n`,
    );
  });

  it('sorts, keeps comments with their pins, and changes only the version text', () => {
    const text = `${head}install:
  - zsh # the shell
  - bash
packages:
  # header comment stays on top
  zsh: '5.8' # old
  libc6: 2.36-9

  # the bash pin
  bash: "5.1"
  gone: 1.0 # removed
  # trailing comment of the map
files: []
`;
    const out = writeLockedSet(
      text,
      lock(['bash', 'zsh', 'new'], { zsh: '5.9', libc6: '2.36-9', bash: '5.1', new: '2.36' }),
    );
    expect(out).toBe(`${head}install:
  - bash
  - new
  - zsh # the shell
packages:
  # header comment stays on top

  # the bash pin
  bash: "5.1"
  libc6: 2.36-9
  new: '2.36'
  zsh: '5.9' # old
  # trailing comment of the map
files: []
`);
  });

  it('rewrites a flow install list in flow style', () => {
    const text = `${head}install: [zsh]  # roots\npackages:\n  zsh: 5.9-1\n`;
    expect(writeLockedSet(text, lock(['zsh', 'bash'], { zsh: '5.9-1', bash: '5.2-1' }))).toBe(
      `${head}install: [bash, zsh]  # roots\npackages:\n  bash: 5.2-1\n  zsh: 5.9-1\n`,
    );
  });

  it('ends an edited file with a newline', () => {
    const text = `${head}install:\n  - zsh\npackages:\n  zsh: 5.9-1`;
    expect(writeLockedSet(text, lock(['zsh'], { zsh: '5.9-2', bash: '5.2-1' }))).toBe(
      `${head}install:\n  - zsh\npackages:\n  bash: 5.2-1\n  zsh: 5.9-2\n`,
    );
  });
});
