import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { CvmfsServerPublisher } from '../../src/publisher/cvmfs-server/index.js';
import {
  ENCODED_PREFIX,
  descriptionText,
  descriptionWord,
} from '../../src/publisher/cvmfs-server/description.js';
import { parseTagList } from '../../src/publisher/cvmfs-server/tags.js';
import { decodeProvenance, encodeProvenance } from '../../src/reconcile/provenance.js';
import { IDENTITY_FIELDS } from '../../src/reconcile/identity.js';
import { tmpdir } from '../helpers/tmp.js';

// What cvmfs_server tag -lx printed for a repository (2.11.5).
const LISTING = `v1 1836936ab88d059c385cc9deeb2b5466f51bdeb8 16384 2 1796625215 (default) one_word
trunk 1836936ab88d059c385cc9deeb2b5466f51bdeb8 16384 2 1796625215 (default) current HEAD
generic-2026-12-07T06:33:34Z 56fb183ca96717211223d28a130aa3bbc1e7404b 16384 1 1796625214 (default) 
Failed to set requested number of open files, using maximum number 20000
HEAD 56fb183ca96717211223d28a130aa3bbc1e7404b 16384 1 1796625214 (default) rolling
`;

describe('the cvmfs-server backend, without the server', () => {
  it("reads cvmfs_server's machine-readable tag list, descriptions with spaces and empty ones", () => {
    const tags = parseTagList(LISTING);
    expect(tags.map((tag) => tag.name)).toEqual([
      'v1',
      'trunk',
      'generic-2026-12-07T06:33:34Z',
      'HEAD',
    ]);
    expect(tags[1]).toEqual({
      name: 'trunk',
      hashHex: '1836936ab88d059c385cc9deeb2b5466f51bdeb8',
      size: 16384,
      revision: 2,
      timestamp: 1796625215,
      branch: '',
      description: 'current HEAD',
    });
    expect(tags[2]!.description).toBe('');
  });

  it('hands cvmfs_server descriptions as one word no shell acts on, and reads them back', () => {
    const hostile = [
      '{"identity":"sha256:…","commit":"0a03ed66"}',
      'two words',
      '$(reboot)',
      '`reboot`',
      'a";reboot;"b',
      "it's",
      'x'.repeat(500),
      `${ENCODED_PREFIX}looks encoded`,
    ];
    for (const text of hostile) {
      const word = descriptionWord(text);
      expect(word, text).toMatch(/^[A-Za-z0-9._:,+=@%/-]+$/);
      // The shell cvmfs_server runs it through sees one plain word.
      expect(execFileSync('sh', ['-c', `printf %s ${word}`], { encoding: 'utf8' })).toBe(word);
      expect(descriptionText(word)).toBe(text);
    }
    expect(descriptionWord('cernvm-system-1.2.0')).toBe('cernvm-system-1.2.0');
    const stored = encodeProvenance({
      ucvm: 1,
      version: '1.2.0',
      identity: `sha256:${'a'.repeat(64)}`,
      fields: Object.fromEntries(IDENTITY_FIELDS.map((field) => [field, 'b'.repeat(64)])) as never,
      at: '2026-12-07T00:00:00.000Z',
    });
    expect(decodeProvenance(descriptionWord(stored))?.version).toBe('1.2.0');
  });

  it('says cvmfs_server is missing, and publishes nothing', async () => {
    const publisher = new CvmfsServerPublisher({
      fqrn: 'missing.example.org',
      binary: '/nonexistent/cvmfs_server',
    });
    const tree = await tmpdir({ a: 'a\n' });
    const error = await publisher.publish({ tree, tag: 'v1' }).catch((e: unknown) => e);
    expect(isUcvmError(error, 'COMMAND_FAILED')).toBe(true);
    expect((error as Error).message).toBe('/nonexistent/cvmfs_server is not installed here');
    expect((error as { details: string }).details).toContain('backend: embedded');
  });
});
