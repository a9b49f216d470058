import { parentPort, workerData } from 'node:worker_threads';
import { OBJECT_DIRECTORIES, ObjectLookup } from '../../storage/directory-objects.js';
import {
  ContentPipeline,
  PipelineError,
  type FileOutcome,
  type PipelineOptions,
} from './content-pipeline.js';

/** A worker thread that stores file contents; see ContentPipeline. */
export interface ContentJob {
  id: number;
  source: string;
  size: number;
}

/** Why a job failed, as plain data (errors do not cross threads intact). */
export interface JobFailure {
  message: string;
  code?: string;
  path: string;
  phase: 'read' | 'write' | 'internal';
}

/** The answer to a batch of jobs: one result per job, in order. */
export type BatchResult = Array<{ id: number; outcome?: FileOutcome; error?: JobFailure }>;

function failureOf(error: unknown, job: ContentJob): JobFailure {
  return error instanceof PipelineError
    ? { message: error.cause.message, code: error.cause.code, path: error.path, phase: error.phase }
    : { message: (error as Error).message, path: job.source, phase: 'internal' };
}

/**
 * What the pool sends: files to store, object names to look for in the target, or how many
 * names it will ask for later (the object directories are then listed while the worker is idle).
 */
export type WorkerRequest =
  | { files: ContentJob[] }
  | { check: { id: number; names: string[] } }
  | { listAhead: { expected: number } };

/** What a worker answers: one result per file, in order; or the names it did not find. */
export type WorkerReply = { files: BatchResult } | { check: { id: number; missing: string[] } };

const options = workerData as PipelineOptions;
const pipeline = new ContentPipeline(options);
const objects = options.target === undefined ? undefined : new ObjectLookup(options.target.root);

/**
 * Lists the object directories one per turn of the event loop, so that files sent meanwhile
 * are stored first; a check asked before the end lists what it needs itself.
 */
function listAhead(expected: number): void {
  const perDirectory = expected / OBJECT_DIRECTORIES.length;
  let next = 0;
  const step = (): void => {
    objects?.listAhead(OBJECT_DIRECTORIES[next++]!, perDirectory);
    if (next < OBJECT_DIRECTORIES.length) setImmediate(step);
  };
  setImmediate(step);
}

parentPort!.on('message', (request: WorkerRequest) => {
  if ('listAhead' in request) {
    listAhead(request.listAhead.expected);
    return;
  }
  if ('check' in request) {
    const { id, names } = request.check;
    const missing = objects!.missing(names);
    parentPort!.postMessage({ check: { id, missing } } satisfies WorkerReply);
    return;
  }
  const results: BatchResult = request.files.map((job) => {
    try {
      return { id: job.id, outcome: pipeline.storeFile(job.source, job.size) };
    } catch (error) {
      return { id: job.id, error: failureOf(error, job) };
    }
  });
  parentPort!.postMessage({ files: results } satisfies WorkerReply);
});
