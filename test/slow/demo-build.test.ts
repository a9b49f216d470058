import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadChannelManifest, buildChannel } from '../../src/template/channel.js';
import { readInstalledPackages } from '../../src/template/installed-set.js';
import { archiveProblem } from './archive.js';
import { tmpdir } from '../helpers/tmp.js';

const root = path.resolve(import.meta.dirname, '../..');

const unreachable = await archiveProblem();

describe.skipIf(unreachable !== undefined)(
  `building the demo manifest from the real archive${unreachable === undefined ? '' : ` (skipped: ${unreachable})`}`,
  () => {
    it('installs exactly the pinned production set, with the meta package and the extra files', async () => {
      const out = path.join(await tmpdir(), 'production');
      const manifest = await loadChannelManifest(root, 'production');
      const result = await buildChannel({ root, channel: 'production', out });
      expect(result.build.out).toBe(out);

      const installed = await readInstalledPackages(out);
      const expected = new Map(Object.entries(manifest.packages));
      expected.set(manifest.system.name, manifest.system.version);
      expect(new Map(installed.map((p) => [p.name, p.version]))).toEqual(expected);
      expect(installed.every((p) => p.status.trim() === 'ii')).toBe(true);

      const version = manifest.system.version;
      expect(
        readFileSync(path.join(out, `.installed_${manifest.system.name}-${version}`), 'utf8'),
      ).toContain(version);
      for (const file of manifest.files)
        expect(existsSync(path.join(out, file.path)), file.path).toBe(true);
      // The OS's own package database knows which system it is.
      const status = execFileSync('dpkg-query', [
        '--admindir',
        path.join(out, 'var/lib/dpkg'),
        '-W',
        '-f',
        '${Version}',
        manifest.system.name,
      ]).toString();
      expect(status).toBe(version);
      expect(readFileSync(path.join(out, 'etc/machine-id'), 'utf8')).toBe('');
    }, 600_000);
  },
);
