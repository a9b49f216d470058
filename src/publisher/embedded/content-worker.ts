import { parentPort, workerData } from 'node:worker_threads';
import { missingObjectsSync } from '../../storage/directory-objects.js';
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

/** What the pool sends: files to store, or object names to look for in the target. */
export type WorkerRequest = { files: ContentJob[] } | { check: { id: number; names: string[] } };

/** What a worker answers: one result per file, in order; or the names it did not find. */
export type WorkerReply = { files: BatchResult } | { check: { id: number; missing: string[] } };

const options = workerData as PipelineOptions;
const pipeline = new ContentPipeline(options);
parentPort!.on('message', (request: WorkerRequest) => {
  if ('check' in request) {
    const { id, names } = request.check;
    const missing = missingObjectsSync(options.target!.root, names);
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
