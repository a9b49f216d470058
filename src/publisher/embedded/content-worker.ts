import { parentPort, workerData } from 'node:worker_threads';
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

const pipeline = new ContentPipeline(workerData as PipelineOptions);
parentPort!.on('message', (jobs: ContentJob[]) => {
  const results: BatchResult = jobs.map((job) => {
    try {
      return { id: job.id, outcome: pipeline.storeFile(job.source, job.size) };
    } catch (error) {
      return { id: job.id, error: failureOf(error, job) };
    }
  });
  parentPort!.postMessage(results);
});
