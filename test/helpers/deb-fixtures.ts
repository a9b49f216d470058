import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../src/exec/index.js';

export interface DebFile {
  /** Path inside the package, e.g. `/usr/bin/hello` or `etc/hello.conf`. */
  path: string;
  content: string | Buffer;
  /** Permission bits (default 0o644). */
  mode?: number;
}

export interface DebSpec {
  name: string;
  version: string;
  architecture?: string;
  depends?: string;
  preDepends?: string;
  provides?: string;
  conflicts?: string;
  breaks?: string;
  essential?: boolean;
  multiArch?: 'same' | 'foreign' | 'allowed' | 'no';
  files?: readonly DebFile[];
  /** Body of a maintainer script run after unpacking (a `#!/bin/sh` line is added). */
  postinst?: string;
}

function controlText(spec: DebSpec): string {
  const fields: [string, string | undefined][] = [
    ['Package', spec.name],
    ['Version', spec.version],
    ['Architecture', spec.architecture ?? 'amd64'],
    ['Maintainer', 'ucvm tests <tests@example.invalid>'],
    ['Essential', spec.essential === true ? 'yes' : undefined],
    ['Multi-Arch', spec.multiArch],
    ['Pre-Depends', spec.preDepends],
    ['Depends', spec.depends],
    ['Provides', spec.provides],
    ['Conflicts', spec.conflicts],
    ['Breaks', spec.breaks],
    ['Section', 'misc'],
    ['Priority', 'optional'],
    ['Description', `${spec.name} test fixture\n ucvm builds this package in its tests.`],
  ];
  return `${fields
    .filter((field): field is [string, string] => field[1] !== undefined)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n')}\n`;
}

/** The .deb file name apt uses: `<name>_<version without epoch>_<arch>.deb`. */
export function debFileName(spec: DebSpec): string {
  return `${spec.name}_${spec.version.replace(/^\d+:/, '')}_${spec.architecture ?? 'amd64'}.deb`;
}

/** Builds a real .deb with `dpkg-deb --build --root-owner-group` into `outDir`; returns its path. */
export async function buildDeb(spec: DebSpec, outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const root = await mkdtemp(path.join(outDir, '.build-'));
  try {
    // dpkg-deb insists on 0755 for DEBIAN/, and the root's mode becomes that of "/" in the package.
    await chmod(root, 0o755);
    await mkdir(path.join(root, 'DEBIAN'), { mode: 0o755 });
    await writeFile(path.join(root, 'DEBIAN/control'), controlText(spec));
    if (spec.postinst !== undefined) {
      await writeFile(path.join(root, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\n${spec.postinst}\n`);
      await chmod(path.join(root, 'DEBIAN/postinst'), 0o755);
    }
    for (const file of spec.files ?? []) {
      const target = path.join(root, file.path.replace(/^\/+/, ''));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, file.content);
      await chmod(target, file.mode ?? 0o644);
    }
    const out = path.join(outDir, debFileName(spec));
    // gzip keeps fixture builds fast; dpkg and apt read every compressor.
    await run('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', root, out]);
    return out;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
