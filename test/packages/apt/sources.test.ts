import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import {
  parseDeb822Sources,
  parseOneLineSources,
  readAptSources,
} from '../../../src/packages/apt/index.js';
import { tmpdir } from '../../helpers/tmp.js';

describe('parseOneLineSources', () => {
  it('reads deb lines with options and skips deb-src, comments and blank lines', () => {
    const text = [
      '# the main archive',
      'deb http://deb.example.org/debian/ bookworm main contrib # trailing comment',
      'deb-src http://deb.example.org/debian bookworm main',
      '',
      'deb [ arch=amd64,arm64 signed-by=/usr/share/keyrings/example.gpg ] https://example.org/apt stable main',
      'deb [signed-by=0123456789ABCDEF0123456789ABCDEF01234567] file:/srv/repo ./',
    ].join('\n');
    const entries = parseOneLineSources(text, '/etc/apt/sources.list', '/root-dir');
    expect(entries).toEqual([
      {
        uri: 'http://deb.example.org/debian',
        suite: 'bookworm',
        components: ['main', 'contrib'],
        signedBy: undefined,
        types: ['deb'],
        file: '/etc/apt/sources.list',
      },
      {
        uri: 'https://example.org/apt',
        suite: 'stable',
        components: ['main'],
        signedBy: { keyrings: ['/root-dir/usr/share/keyrings/example.gpg'], fingerprints: [] },
        types: ['deb'],
        architectures: ['amd64', 'arm64'],
        file: '/etc/apt/sources.list',
      },
      {
        uri: 'file:/srv/repo',
        suite: './',
        components: [],
        signedBy: { keyrings: [], fingerprints: ['0123456789ABCDEF0123456789ABCDEF01234567'] },
        types: ['deb'],
        file: '/etc/apt/sources.list',
      },
    ]);
  });

  it('reports a malformed line with its position', () => {
    let caught: unknown;
    try {
      parseOneLineSources('deb http://example.org/debian\n', '/etc/apt/sources.list');
    } catch (error) {
      caught = error;
    }
    expect(isUcvmError(caught, 'PIPELINE_INVALID')).toBe(true);
    expect(isUcvmError(caught) && caught.where).toEqual({ file: '/etc/apt/sources.list', line: 1 });
  });
});

const inlineKey = [
  '-----BEGIN PGP PUBLIC KEY BLOCK-----',
  '',
  'mDMEZkFAKEKEYDATA',
  '=abcd',
  '-----END PGP PUBLIC KEY BLOCK-----',
];

describe('parseDeb822Sources', () => {
  it('expands URIs × Suites, honours Types and Enabled, and reads inline keys', () => {
    const text = [
      '# comment before',
      'Types: deb deb-src',
      'URIs: http://deb.example.org/debian http://mirror.example.org/debian/',
      'Suites: bookworm bookworm-updates',
      '# a comment inside the paragraph',
      'Components: main non-free-firmware',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb-src',
      'URIs: http://deb.example.org/debian',
      'Suites: bookworm',
      'Components: main',
      '',
      'Types: deb',
      'URIs: http://off.example.org/debian',
      'Suites: bookworm',
      'Components: main',
      'Enabled: no',
      '',
      'Types: deb',
      'URIs: https://example.org/apt',
      'Suites: stable',
      'Components: main',
      'Architectures: amd64',
      'Signed-By:',
      ...inlineKey.map((line) => (line === '' ? ' .' : ` ${line}`)),
      '',
    ].join('\n');
    const entries = parseDeb822Sources(text, '/etc/apt/sources.list.d/debian.sources');
    expect(entries.map((entry) => `${entry.uri} ${entry.suite}`)).toEqual([
      'http://deb.example.org/debian bookworm',
      'http://deb.example.org/debian bookworm-updates',
      'http://mirror.example.org/debian bookworm',
      'http://mirror.example.org/debian bookworm-updates',
      'https://example.org/apt stable',
    ]);
    expect(entries[0]?.components).toEqual(['main', 'non-free-firmware']);
    expect(entries[0]?.types).toEqual(['deb']);
    expect(entries[0]?.signedBy).toEqual({
      keyrings: ['/usr/share/keyrings/debian-archive-keyring.gpg'],
      fingerprints: [],
    });
    expect(entries[4]?.architectures).toEqual(['amd64']);
    expect(entries[4]?.signedBy).toEqual({
      keyrings: [],
      fingerprints: [],
      inlineKey: `${inlineKey.join('\n')}\n`,
    });
  });

  it('rejects an entry without URIs', () => {
    expect(() => parseDeb822Sources('Types: deb\nSuites: stable\n', 'x.sources')).toThrow(
      /URIs and Suites/,
    );
  });
});

describe('readAptSources', () => {
  it('reads sources.list, then sources.list.d in name order, under a root dir', async () => {
    const root = await tmpdir({
      'etc/apt/sources.list': 'deb http://one.example.org/debian bookworm main\n',
      'etc/apt/sources.list.d/b.sources':
        'Types: deb\nURIs: http://three.example.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/three.gpg\n',
      'etc/apt/sources.list.d/a.list': 'deb http://two.example.org/debian bookworm main\n',
      'etc/apt/sources.list.d/c.list.disabled':
        'deb http://never.example.org/debian bookworm main\n',
      'etc/apt/sources.list.d/d.list.save': 'deb http://never.example.org/debian bookworm main\n',
    });
    const entries = await readAptSources(root);
    expect(entries.map((entry) => entry.uri)).toEqual([
      'http://one.example.org/debian',
      'http://two.example.org/debian',
      'http://three.example.org/debian',
    ]);
    expect(entries[2]?.signedBy?.keyrings).toEqual([`${root}/etc/apt/keyrings/three.gpg`]);
    expect(entries[2]?.file).toBe(`${root}/etc/apt/sources.list.d/b.sources`);
  });

  it('returns nothing for a root without apt configuration', async () => {
    expect(await readAptSources(await tmpdir())).toEqual([]);
  });

  it("parses this machine's apt sources (no network)", async () => {
    const entries = await readAptSources('/');
    for (const entry of entries) {
      expect(entry.types).toEqual(['deb']);
      expect(entry.uri).toMatch(/^[a-z+]+:/);
      expect(entry.uri.endsWith('/')).toBe(false);
      expect(entry.suite).not.toBe('');
    }
  });
});
