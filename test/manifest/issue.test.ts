import { describe, expect, it } from 'vitest';
import {
  escapeData,
  escapeProperty,
  formatGithubAnnotation,
  formatIssue,
  hasErrors,
  sortIssues,
} from '../../src/manifest/index.js';
import type { Issue } from '../../src/manifest/index.js';

const issue: Issue = {
  severity: 'error',
  file: 'manifests/testing.yaml',
  line: 12,
  column: 5,
  path: 'packages.bash',
  message: 'expected an exact version, got "^5.2"',
};

describe('formatIssue', () => {
  it('prints file:line:column path: message', () => {
    expect(formatIssue(issue)).toBe(
      'manifests/testing.yaml:12:5 packages.bash: expected an exact version, got "^5.2"',
    );
  });

  it('marks warnings and leaves out an empty path', () => {
    expect(
      formatIssue({ ...issue, severity: 'warning', path: '', message: 'invalid YAML: x' }),
    ).toBe('manifests/testing.yaml:12:5: warning: invalid YAML: x');
  });
});

describe('formatGithubAnnotation', () => {
  it('prints a workflow command with the position', () => {
    expect(formatGithubAnnotation(issue)).toBe(
      '::error file=manifests/testing.yaml,line=12,col=5,title=packages.bash::expected an exact version, got "^5.2"',
    );
  });

  it('uses ::warning for warnings and a default title for the whole file', () => {
    expect(formatGithubAnnotation({ ...issue, severity: 'warning', path: '' })).toMatch(
      /^::warning file=manifests\/testing\.yaml,line=12,col=5,title=ucvm validate::/,
    );
  });

  it('escapes the message and the properties as GitHub requires', () => {
    const tricky: Issue = {
      ...issue,
      file: 'a,b:c.yaml',
      path: 'files.0:x',
      message: '100% wrong\r\nsecond line, a: b',
    };
    expect(formatGithubAnnotation(tricky)).toBe(
      '::error file=a%2Cb%3Ac.yaml,line=12,col=5,title=files.0%3Ax::100%25 wrong%0D%0Asecond line, a: b',
    );
  });

  it.each([
    ['%', '%25', '%25'],
    ['\r', '%0D', '%0D'],
    ['\n', '%0A', '%0A'],
    [':', ':', '%3A'],
    [',', ',', '%2C'],
    ['%0A', '%250A', '%250A'],
  ])('escapes %j as %j in data and %j in properties', (text, data, property) => {
    expect(escapeData(text)).toBe(data);
    expect(escapeProperty(text)).toBe(property);
  });
});

describe('sortIssues and hasErrors', () => {
  it('orders by file, line and column', () => {
    const a = { ...issue, file: 'pipeline/pipeline.yaml', line: 1 };
    const b = { ...issue, line: 3, column: 9 };
    const c = { ...issue, line: 3, column: 2 };
    expect(sortIssues([a, b, c])).toEqual([c, b, a]);
  });

  it('counts only errors', () => {
    expect(hasErrors([{ ...issue, severity: 'warning' }])).toBe(false);
    expect(hasErrors([{ ...issue, severity: 'warning' }, issue])).toBe(true);
    expect(hasErrors([])).toBe(false);
  });
});
