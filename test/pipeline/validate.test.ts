import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { loadPipelineText, validatePipelineFile, validatePipelineText } from '../../src/pipeline/index.js';
import type { Issue } from '../../src/manifest/index.js';
import { validPipelineText } from './fixtures.js';

const file = 'pipeline/pipeline.yaml';

function edit(from: string, to: string): string {
  expect(validPipelineText.split(from)).toHaveLength(2);
  return validPipelineText.replace(from, to);
}

function brief(issue: Issue): string {
  return `${issue.line}:${issue.column} ${issue.path}: ${issue.message}`;
}

describe('validatePipelineText', () => {
  it('accepts a valid pipeline file and fills in defaults', () => {
    const { pipeline, issues } = validatePipelineText(validPipelineText, file);
    expect(issues).toEqual([]);
    expect(pipeline?.repositories.map((repository) => repository.rollingTag)).toEqual(['HEAD', 'HEAD', 'HEAD5']);
    expect(pipeline?.promotion).toEqual(['development', 'testing', 'production']);
    expect(pipeline?.channels.testing).toBe('cernvm-testing.example.org');
    expect(pipeline?.sources?.[1]?.components).toEqual(['main']);
    expect(pipeline?.image?.proxy).toBe('http://squid.example.org:3128;DIRECT');
  });

  it('accepts a minimal file: no sources means the machine apt sources', () => {
    const text = 'repositories:\n  - {name: os.example.org, backend: embedded, storage: repo, keys: keys}\nchannels:\n  development: os.example.org\npromotion: [development]\npool: pool\n';
    const { pipeline, issues } = validatePipelineText(text, file);
    expect(issues).toEqual([]);
    expect(pipeline?.sources).toBeUndefined();
    expect(pipeline?.image).toBeUndefined();
  });

  it.each([
    ['a name without a dot', '  - name: cernvm-devel.example.org', '  - name: cernvm-devel', '3:11 repositories.0.name: the repository name must be fully qualified (contain a dot, e.g. os.example.org)'],
    ['a name with a bad character', '  - name: cernvm-devel.example.org', '  - name: cernvm devel.org', '3:11 repositories.0.name: the repository name may contain only letters, digits, "_", "." and "-"'],
    ['a name starting with a dot', '  - name: cernvm-devel.example.org', '  - name: .example.org', '3:11 repositories.0.name: the repository name must start with a letter or digit'],
    ['a name of 61 characters', '  - name: cernvm-devel.example.org', `  - name: ${'a'.repeat(49)}.example.org`, '3:11 repositories.0.name: the repository name is 61 characters; at most 60 are allowed'],
    ['an unknown backend', '    backend: cvmfs-server', '    backend: s3', '13:14 repositories.2.backend: expected one of "embedded", "cvmfs-server", got "s3"'],
    ['an embedded backend without storage', '    storage: /srv/ucvm/cernvm-testing.example.org\n', '', '8:5 repositories.1.storage: the embedded backend needs a storage directory'],
    ['storage for cvmfs-server', '    rollingTag: HEAD5', '    rollingTag: HEAD5\n    storage: /srv', '16:14 repositories.2.storage: storage applies to the embedded backend only (cvmfs_server keeps its own)'],
    ['a bad env reference', '    keys: env:UCVM_TESTING_KEYS', '    keys: env:1X', '11:11 repositories.1.keys: expected env: followed by a variable name'],
    ['a URL that is not http', '    url: http://hepvm.example.org/cvmfs/cernvm-devel.example.org', '    url: ftp://hepvm.example.org/', '7:10 repositories.0.url: expected an http:// or https:// URL'],
    ['a reserved rolling tag', '    rollingTag: HEAD5', '    rollingTag: trunk', '15:17 repositories.2.rollingTag: trunk is a tag the repository maintains itself'],
    ['a rolling tag with a space', '    rollingTag: HEAD5', '    rollingTag: HEAD 5', '15:17 repositories.2.rollingTag: a tag name starts with a letter or digit and contains only letters, digits and _ . + : @ = -'],
    ['a channel of an undeclared repository', '  testing: cernvm-testing.example.org', '  testing: cernvm-test.example.org', '18:12 channels.testing: cernvm-test.example.org is not declared under repositories (declared: cernvm-devel.example.org, cernvm-testing.example.org, cernvm-prod.example.org)'],
    ['two channels in one repository', '  testing: cernvm-testing.example.org', '  testing: cernvm-devel.example.org', '18:12 channels.testing: cernvm-devel.example.org already serves channel development; each channel needs its own repository'],
    ['an unknown channel', '  production: cernvm-prod.example.org', '  stable: cernvm-prod.example.org', '19:3 channels.stable: unknown field "stable"; allowed: development, testing, production'],
    ['a promotion to an unmapped channel', '  production: cernvm-prod.example.org\n', '', '17:3 channels.production: missing: the promotion order goes through production, which needs a repository'],
    ['a repeated promotion step', 'pool: /srv/ucvm/pool', 'promotion: [development, testing, development]\npool: /srv/ucvm/pool', '28:35 promotion.2: development appears twice in the promotion order'],
    ['a source without a keyring', '    keyring: /usr/share/keyrings/debian-archive-keyring.gpg\n  - uri', '  - uri', '21:5 sources.0.keyring: missing required field'],
    ['a bad proxy list', '  proxy: http://squid.example.org:3128;DIRECT', '  proxy: $(reboot)', '30:10 image.proxy: expected a CernVM-FS proxy list such as http://squid:3128;DIRECT'],
    ['an unknown image key', '  output: dist/images', '  output: dist/images\n  kernel: vmlinuz', '33:3 image.kernel: unknown field "kernel"; allowed: servers, proxy, cmdline, output, rootSource'],
    ['a missing pool', 'pool: /srv/ucvm/pool\n', '', '2:1 pool: missing required field'],
  ])('reports %s', (_name, from, to, expected) => {
    const { pipeline, issues } = validatePipelineText(edit(from, to), file);
    expect(pipeline).toBeUndefined();
    expect(issues.map(brief)).toEqual([expected]);
  });

  it('never echoes key material', () => {
    const secret = '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretsecret\n-----END RSA PRIVATE KEY-----';
    const text = edit('    keys: env:UCVM_TESTING_KEYS', `    keys: |\n${secret.split('\n').map((line) => `      ${line}`).join('\n')}`);
    const { issues } = validatePipelineText(text, file);
    expect(issues.map(brief)).toEqual([
      '11:11 repositories.1.keys: this looks like key material: give a directory path or env:VAR',
    ]);
    expect(JSON.stringify(issues)).not.toContain('secret');
  });

  it('reports every issue in one run', () => {
    const text = validPipelineText
      .replace('  - name: cernvm-devel.example.org', '  - name: devel')
      .replace('    backend: cvmfs-server', '    backend: s3')
      .replace('pool: /srv/ucvm/pool', 'pool: /srv/ucvm/pool\nextra: true');
    const { issues } = validatePipelineText(text, file);
    expect(issues.map((issue) => `${issue.line}:${issue.column} ${issue.path}`)).toEqual([
      '3:11 repositories.0.name',
      '13:14 repositories.2.backend',
      '29:1 extra',
    ]);
  });
});

describe('loadPipelineText and validatePipelineFile', () => {
  it('throws PIPELINE_INVALID with every issue', () => {
    try {
      loadPipelineText('repositories: []\n', file);
      expect.unreachable();
    } catch (error) {
      expect(isUcvmError(error, 'PIPELINE_INVALID')).toBe(true);
      if (!isUcvmError(error)) return;
      expect(error.details).toContain('pipeline/pipeline.yaml:1:15 repositories: must not be an empty list');
      expect(error.details).toContain('pipeline/pipeline.yaml:1:1 channels: missing required field');
    }
  });

  it('reads through the given reader', async () => {
    const { pipeline } = await validatePipelineFile(file, () => Promise.resolve(validPipelineText));
    expect(pipeline?.pool).toBe('/srv/ucvm/pool');
    const missing = await validatePipelineFile(file, () => Promise.reject(Object.assign(new Error('x'), { code: 'EACCES' })));
    expect(missing.issues.map(brief)).toEqual(['1:1 : cannot read the file (EACCES)']);
  });
});
