import type { Issue } from '../manifest/issue.js';
import { sortIssues } from '../manifest/issue.js';
import { validateManifestSource } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { unreadableFileIssue } from '../manifest/validate-yaml.js';
import { locateIssues } from '../manifest/yaml-source.js';
import type { YamlSource } from '../manifest/yaml-source.js';
import { validatePipelineSource } from './load.js';
import { validateImageSource } from '../image/inputs/load.js';
import type { PipelineConfig } from './schema.js';

/** A file to validate: its text, or the error reading it. */
export type ProjectFile = { file: string; text: string } | { file: string; error: unknown };

export type FileKind = 'manifest' | 'pipeline' | 'image';

/** `pipeline.yaml` (or `.yml`) is the pipeline file, `image.yaml` the boot image's inputs; any other YAML file is a manifest. */
export function fileKind(file: string): FileKind {
  if (/(?:^|\/)pipeline\.ya?ml$/.test(file)) return 'pipeline';
  return /(?:^|\/)image\.ya?ml$/.test(file) ? 'image' : 'manifest';
}

export interface ProjectValidation {
  manifests: { file: string; manifest: Manifest }[];
  pipeline?: PipelineConfig;
  issues: Issue[];
}

/**
 * Validates manifests and the pipeline file together: each on its own, then across files
 * (every manifest's channel needs a repository; one manifest per channel).
 */
export function validateProject(files: readonly ProjectFile[]): ProjectValidation {
  const issues: Issue[] = [];
  const manifests: { file: string; manifest: Manifest; source: YamlSource }[] = [];
  let pipeline: { file: string; config: PipelineConfig } | undefined;
  for (const entry of files) {
    if ('error' in entry) {
      issues.push(unreadableFileIssue(entry.file, entry.error));
    } else if (fileKind(entry.file) === 'pipeline') {
      const result = validatePipelineSource(entry.text, entry.file);
      issues.push(...result.issues);
      if (result.value !== undefined) pipeline = { file: entry.file, config: result.value };
    } else if (fileKind(entry.file) === 'image') {
      issues.push(...validateImageSource(entry.text, entry.file).issues);
    } else {
      const result = validateManifestSource(entry.text, entry.file);
      issues.push(...result.issues);
      if (result.value !== undefined) manifests.push({ file: entry.file, manifest: result.value, source: result.source });
    }
  }
  const byChannel = new Map<string, string>();
  for (const { file, manifest, source } of manifests) {
    const { channel } = manifest;
    const messages: string[] = [];
    const other = byChannel.get(channel);
    if (other !== undefined) messages.push(`channel ${channel} is already declared by ${other}`);
    byChannel.set(channel, file);
    if (pipeline !== undefined && pipeline.config.channels[channel] === undefined) {
      messages.push(`channel ${channel} has no repository in ${pipeline.file} (channels.${channel})`);
    }
    issues.push(...locateIssues(source, messages.map((message) => ({ severity: 'error', path: ['channel'], message }))));
  }
  const result: ProjectValidation = {
    manifests: manifests.map(({ file, manifest }) => ({ file, manifest })),
    issues: sortIssues(issues),
  };
  if (pipeline !== undefined) result.pipeline = pipeline.config;
  return result;
}
