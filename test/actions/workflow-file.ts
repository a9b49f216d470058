import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { WORKFLOWS } from './workflow-schema.js';

export interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  'continue-on-error'?: boolean;
}

export interface Job {
  name?: string;
  'runs-on'?: string | string[];
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string> | string;
  concurrency?: string | { group: string; 'cancel-in-progress'?: boolean | string };
  env?: Record<string, string>;
  steps: Step[];
}

export interface Workflow {
  name?: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string> | string;
  concurrency?: string | { group: string; 'cancel-in-progress'?: boolean | string };
  jobs: Record<string, Job>;
}

export function readWorkflow(name: string): Workflow {
  return parse(readFileSync(path.join(WORKFLOWS, name), 'utf8')) as Workflow;
}

export function stepNamed(job: Job, name: string): Step {
  const step = job.steps.find((candidate) => candidate.name === name);
  if (step === undefined) throw new Error(`no step named ${JSON.stringify(name)}`);
  return step;
}

export function environmentName(job: Job): string | undefined {
  return typeof job.environment === 'string' ? job.environment : job.environment?.name;
}

/** Every permission granted, at workflow and job level, as `scope: level`. */
export function grantedPermissions(workflow: Workflow): Record<string, string>[] {
  const levels = [workflow.permissions, ...Object.values(workflow.jobs).map((j) => j.permissions)];
  return levels.map((permissions) => {
    if (permissions === undefined) return {};
    if (typeof permissions === 'string') return { '*': permissions };
    return permissions;
  });
}
