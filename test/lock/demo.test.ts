import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { channels } from '../../src/manifest/index.js';
import type { Manifest } from '../../src/manifest/index.js';
import { validateProject } from '../../src/pipeline/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = [...channels.map((channel) => `manifests/${channel}.yaml`), 'pipeline/pipeline.yaml'];

async function project() {
  const entries = await Promise.all(
    files.map(async (file) => ({ file, text: await readFile(`${root}${file}`, 'utf8') })),
  );
  return { entries, result: validateProject(entries) };
}

describe('the committed demo (manifests/, pipeline/)', () => {
  it('is valid, as ucvm validate checks it', async () => {
    const { entries, result } = await project();
    expect(result.issues).toEqual([]);
    expect(result.manifests.map((entry) => entry.manifest.channel)).toEqual([...channels]);
    expect(result.pipeline?.promotion).toEqual(['development', 'testing', 'production']);
    for (const { file, text } of entries) {
      const schema = file.startsWith('manifests/') ? 'manifest' : 'pipeline';
      expect(text.split('\n')[0]).toBe(
        `# yaml-language-server: $schema=../schemas/${schema}.schema.json`,
      );
    }
  });

  it('pins a small Debian bookworm system whose channels differ along the promotion', async () => {
    const { result } = await project();
    const byChannel = new Map(
      result.manifests.map((entry) => [entry.manifest.channel, entry.manifest]),
    );
    const get = (channel: string): Manifest => {
      const manifest = byChannel.get(channel as Manifest['channel']);
      if (manifest === undefined) throw new Error(`no ${channel} manifest`);
      return manifest;
    };
    const [development, testing, production] = [
      get('development'),
      get('testing'),
      get('production'),
    ];
    for (const manifest of [development, testing, production]) {
      expect(manifest.base).toEqual({
        distribution: 'debian',
        suite: 'bookworm',
        architecture: 'amd64',
      });
      expect(manifest.system.name).toBe('cernvm-system');
      expect(manifest.install).toContain('systemd-sysv');
      expect(Object.keys(manifest.packages).length).toBeGreaterThan(30);
      expect(Object.keys(manifest.packages).length).toBeLessThan(200);
      expect(Object.keys(manifest.packages).some((name) => name.startsWith('linux-image'))).toBe(
        false,
      );
      expect(manifest.files.map((file) => file.path)).toEqual([
        '/etc/motd',
        // The unit the boot tests wait for, pulled in by a drop-in.
        '/etc/systemd/system/ucvm-booted.service',
        '/etc/systemd/system/multi-user.target.d/ucvm-booted.conf',
        '/.ucernvm_pinfiles',
        '/.ucernvm_bootstrap',
      ]);
    }
    expect([production, testing, development].map((manifest) => manifest.system.version)).toEqual([
      '1.0.0',
      '1.1.0',
      '1.2.0',
    ]);
    expect(development.packages.curl).toBeDefined();
    expect(production.packages.curl).toBeUndefined();
    // Each channel keeps the versions of the one it will be promoted to.
    for (const [name, version] of Object.entries(production.packages)) {
      expect(testing.packages[name]).toBe(version);
      expect(development.packages[name]).toBe(version);
    }
  });
});
