import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { readProjectText } from '../../project/read-text.js';
import path from 'node:path';
import type { Command } from 'commander';
import { annotate, underActions } from '../../actions/index.js';
import { formatIssue, hasErrors } from '../../manifest/index.js';
import type { Issue } from '../../manifest/index.js';
import type { Annotation } from '../../actions/index.js';
import { validateProject } from '../../pipeline/index.js';
import type { ProjectFile } from '../../pipeline/index.js';
import { emit } from '../output.js';

interface ValidateOptions {
  root: string;
  json?: boolean;
}

/** A file to check: the name shown in issues and where to read it. */
interface Target {
  name: string;
  location: string;
}

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check manifests and the pipeline file, reporting every issue with its position')
    .argument(
      '[files...]',
      'files to check (default: manifests/*.yaml and pipeline/pipeline.yaml under --root)',
    )
    .option('--root <dir>', 'root of the git repository', '.')
    .option('--json', 'print the issues as JSON')
    .addHelpText(
      'after',
      `
Files named pipeline.yaml are checked as the pipeline file, image.yaml as the boot image's
inputs, any other as a channel manifest.
Exit status: 0 when there is no error (warnings allowed), 2 when there is one.
Under GitHub Actions (GITHUB_ACTIONS=true) each issue is also printed as an annotation.

Examples:
  $ ucvm validate
  $ ucvm validate manifests/testing.yaml
  $ ucvm validate --root ../os-config --json`,
    )
    .action(async (files: string[], options: ValidateOptions) => {
      const targets =
        files.length > 0 ? explicitTargets(files) : await defaultTargets(options.root);
      const result = validateProject(await Promise.all(targets.map(readTarget)));
      render(result.issues, targets.length, options.json === true);
      if (hasErrors(result.issues)) process.exitCode = 2;
    });
}

function explicitTargets(files: readonly string[]): Target[] {
  return files.map((file) => ({ name: file, location: path.resolve(file) }));
}

async function defaultTargets(root: string): Promise<Target[]> {
  let entries: string[] = [];
  try {
    entries = await readdir(path.join(root, 'manifests'));
  } catch {
    // No manifests yet: only the pipeline file is checked.
  }
  const names = [
    ...entries
      .filter((entry) => /\.ya?ml$/.test(entry))
      .sort()
      .map((entry) => `manifests/${entry}`),
    'pipeline/pipeline.yaml',
  ];
  // The boot image's inputs are optional: a project that builds no image has none.
  if (existsSync(path.join(root, 'pipeline', 'image.yaml'))) names.push('pipeline/image.yaml');
  return names.map((name) => ({ name, location: path.join(root, name) }));
}

async function readTarget(target: Target): Promise<ProjectFile> {
  try {
    return { file: target.name, text: await readProjectText(target.location) };
  } catch (error) {
    return { file: target.name, error };
  }
}

function render(issues: readonly Issue[], fileCount: number, json: boolean): void {
  const errors = issues.filter((issue) => issue.severity === 'error').length;
  const warnings = issues.length - errors;
  emit(json, { ok: errors === 0, files: fileCount, errors, warnings, issues }, () =>
    issues.map(formatIssue).join('\n'),
  );
  // Under GitHub Actions each issue also becomes one annotation on its line (not with --json,
  // whose stdout is data).
  if (!json && underActions()) for (const issue of issues) annotate(annotationOf(issue));
  const files = `${fileCount} ${fileCount === 1 ? 'file' : 'files'}`;
  if (!json) {
    process.stderr.write(
      issues.length === 0
        ? `${files} valid\n`
        : `${plural(errors, 'error')}, ${plural(warnings, 'warning')} in ${files}\n`,
    );
  }
}

function annotationOf(issue: Issue): Annotation {
  return {
    severity: issue.severity,
    message: issue.message,
    file: issue.file,
    line: issue.line,
    column: issue.column,
    title: issue.path === '' ? 'ucvm validate' : issue.path,
  };
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
