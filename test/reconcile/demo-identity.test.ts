import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifestText } from '../../src/manifest/load.js';
import { channels } from '../../src/manifest/schema.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('the demo manifests', () => {
  it('keep channel names out of the tree, so a version moves between channels unchanged', () => {
    for (const channel of channels) {
      const file = `manifests/${channel}.yaml`;
      const manifest = loadManifestText(readFileSync(path.join(root, file), 'utf8'), file);
      const tree = JSON.stringify({ system: manifest.system, files: manifest.files });
      for (const name of channels)
        expect(tree, `${file} mentions ${name}`).not.toMatch(new RegExp(`\\b${name}\\b`, 'i'));
    }
  });
});
