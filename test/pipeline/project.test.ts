import { describe, expect, it } from 'vitest';
import { fileKind, validateProject } from '../../src/pipeline/index.js';
import { validManifestText } from '../manifest/fixtures.js';
import { validPipelineText } from './fixtures.js';

describe('fileKind', () => {
  it.each([
    ['pipeline/pipeline.yaml', 'pipeline'],
    ['pipeline.yml', 'pipeline'],
    ['manifests/testing.yaml', 'manifest'],
    ['manifests/my-pipeline.yaml', 'manifest'],
  ])('%s is a %s file', (file, kind) => {
    expect(fileKind(file)).toBe(kind);
  });
});

describe('validateProject', () => {
  it('validates manifests and the pipeline file together', () => {
    const result = validateProject([
      { file: 'manifests/testing.yaml', text: validManifestText },
      { file: 'pipeline/pipeline.yaml', text: validPipelineText },
    ]);
    expect(result.issues).toEqual([]);
    expect(result.manifests.map((entry) => entry.file)).toEqual(['manifests/testing.yaml']);
    expect(result.pipeline?.channels.testing).toBe('cernvm-testing.example.org');
  });

  it('reports a manifest whose channel has no repository, at its channel field', () => {
    const pipeline = validPipelineText.replace('  testing: cernvm-testing.example.org\n', '').replace('pool:', 'promotion: [development, production]\npool:');
    const result = validateProject([
      { file: 'manifests/testing.yaml', text: validManifestText },
      { file: 'pipeline/pipeline.yaml', text: pipeline },
    ]);
    expect(result.issues).toEqual([
      {
        severity: 'error',
        file: 'manifests/testing.yaml',
        line: 2,
        column: 10,
        path: 'channel',
        message: 'channel testing has no repository in pipeline/pipeline.yaml (channels.testing)',
      },
    ]);
  });

  it('reports two manifests of one channel', () => {
    const result = validateProject([
      { file: 'manifests/testing.yaml', text: validManifestText },
      { file: 'old/testing.yaml', text: validManifestText },
    ]);
    expect(result.issues).toMatchObject([
      { file: 'old/testing.yaml', line: 2, column: 10, message: 'channel testing is already declared by manifests/testing.yaml' },
    ]);
  });

  it('collects the issues of every file and unreadable files', () => {
    const result = validateProject([
      { file: 'manifests/testing.yaml', text: validManifestText.replace('  bash: 5.2.15-2+b2', '  bash: "^5.2"') },
      { file: 'manifests/production.yaml', error: Object.assign(new Error('gone'), { code: 'ENOENT' }) },
      { file: 'pipeline/pipeline.yaml', text: 'pool: p\n' },
    ]);
    expect(result.issues.map((issue) => `${issue.file}:${issue.line}:${issue.column} ${issue.path}`)).toEqual([
      'manifests/production.yaml:1:1 ',
      'manifests/testing.yaml:17:9 packages.bash',
      'pipeline/pipeline.yaml:1:1 channels',
      'pipeline/pipeline.yaml:1:1 repositories',
    ]);
    expect(result.pipeline).toBeUndefined();
    expect(result.manifests).toEqual([]);
  });
});
