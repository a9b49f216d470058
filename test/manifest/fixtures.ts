import { loadManifestText } from '../../src/manifest/index.js';
import type { Manifest } from '../../src/manifest/index.js';

/** A complete, valid manifest; tests edit one line of it to provoke one issue. */
export const validManifestText = `# yaml-language-server: $schema=../schemas/manifest.schema.json
channel: testing
system:
  name: cernvm-system
  version: 5.1.0
  description: CernVM 5.1 on Debian bookworm
  changelog:
    - bash 5.2.15
    - new motd
base:
  distribution: debian
  suite: bookworm
  architecture: amd64
  snapshot: 20240601T000000Z
packages:
  base-files: "12.4+deb12u5"
  bash: 5.2.15-2+b2
  coreutils: 9.1-1
  libc6: 2.36-9+deb12u4
  systemd: 252.22-1~deb12u1
files:
  - path: /etc/motd
    content: |
      Welcome to CernVM
  - path: /.ucernvm_pinfiles
    source: os/pinfiles
    mode: "0644"
  - path: /.ucernvm_bootstrap
    source: os/bootstrap.sh
    mode: "0755"
`;

/** Parses a manifest that is expected to be valid (for diff and rules tests). */
export function manifest(text: string, file = 'manifests/testing.yaml'): Manifest {
  return loadManifestText(text, file);
}

/** A small manifest built from parts, as YAML text. */
export function manifestText(options: {
  channel?: string;
  version: string;
  packages: Record<string, string>;
  extra?: string;
}): string {
  const pins = Object.entries(options.packages)
    .map(([name, version]) => `  ${name}: "${version}"`)
    .join('\n');
  return [
    `channel: ${options.channel ?? 'testing'}`,
    'system:',
    `  version: ${options.version}`,
    'base:',
    '  distribution: debian',
    '  suite: bookworm',
    '  architecture: amd64',
    'packages:',
    pins,
    options.extra ?? '',
  ].join('\n');
}
