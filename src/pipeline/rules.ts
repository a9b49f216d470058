import type { FieldIssue } from '../manifest/issue.js';
import type { Channel } from '../manifest/schema.js';
import { parseS3Location } from '../storage/s3/location.js';
import type { PipelineConfig } from './schema.js';

function error(path: FieldIssue['path'], message: string): FieldIssue {
  return { severity: 'error', path, message };
}

/** Cross-field rules of the pipeline file (run once the schema accepted it). */
export function checkPipelineRules(config: PipelineConfig): FieldIssue[] {
  return [...checkRepositories(config), ...checkChannels(config), ...checkPromotion(config), ...checkGates(config)];
}

function checkRepositories(config: PipelineConfig): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  config.repositories.forEach((repository, index) => {
    if (seen.has(repository.name)) issues.push(error(['repositories', index, 'name'], `${repository.name} is declared twice`));
    seen.add(repository.name);
    if (repository.backend === 'embedded' && repository.storage === undefined) {
      issues.push(error(['repositories', index, 'storage'], 'the embedded backend needs a storage directory'));
    }
    const inBucket = repository.storage?.startsWith('s3://') === true;
    if (inBucket) {
      try {
        parseS3Location(repository.storage!);
      } catch (problem) {
        issues.push(error(['repositories', index, 'storage'], (problem as Error).message));
      }
    }
    if (repository.s3 !== undefined && !inBucket) {
      issues.push(error(['repositories', index, 's3'], 's3 applies only to a storage in a bucket (storage: s3://<bucket>/<prefix>)'));
    }
    if (repository.backend === 'cvmfs-server' && repository.storage !== undefined) {
      issues.push(
        error(['repositories', index, 'storage'], 'storage applies to the embedded backend only (cvmfs_server keeps its own)'),
      );
    }
  });
  return issues;
}

function checkChannels(config: PipelineConfig): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const declared = config.repositories.map((repository) => repository.name);
  const owner = new Map<string, Channel>();
  for (const [channel, repository] of Object.entries(config.channels) as [Channel, string | undefined][]) {
    if (repository === undefined) continue;
    if (!declared.includes(repository)) {
      issues.push(
        error(['channels', channel], `${repository} is not declared under repositories (declared: ${declared.join(', ')})`),
      );
    }
    const other = owner.get(repository);
    if (other !== undefined) {
      // One rolling tag per repository: two channels there would serve each other's versions.
      issues.push(error(['channels', channel], `${repository} already serves channel ${other}; each channel needs its own repository`));
    }
    owner.set(repository, channel);
  }
  return issues;
}

function checkPromotion(config: PipelineConfig): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<Channel>();
  config.promotion.forEach((channel, index) => {
    if (seen.has(channel)) issues.push(error(['promotion', index], `${channel} appears twice in the promotion order`));
    if (config.channels[channel] === undefined && !seen.has(channel)) {
      // Located under channels, where the fix goes (the promotion order may be the default).
      issues.push(
        error(['channels', channel], `missing: the promotion order goes through ${channel}, which needs a repository`),
      );
    }
    seen.add(channel);
  });
  return issues;
}

function checkGates(config: PipelineConfig): FieldIssue[] {
  const first = config.promotion[0];
  if (first === undefined || config.gates?.[first] === undefined) return [];
  return [error(['gates', first], `${first} is where versions are born: nothing is promoted into it, so it has no gate`)];
}
