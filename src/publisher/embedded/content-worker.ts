import { parentPort, workerData } from 'node:worker_threads';
import { ContentPipeline, PipelineError, type PipelineOptions } from './content-pipeline.js';

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

const pipeline = new ContentPipeline(workerData as PipelineOptions);
parentPort!.on('message', (job: ContentJob) => {
  try {
    parentPort!.postMessage({ id: job.id, outcome: pipeline.storeFile(job.source, job.size) });
  } catch (error) {
    const failure: JobFailure =
      error instanceof PipelineError
        ? {
            message: error.cause.message,
            code: error.cause.code,
            path: error.path,
            phase: error.phase,
          }
        : { message: (error as Error).message, path: job.source, phase: 'internal' };
    parentPort!.postMessage({ id: job.id, error: failure });
  }
});
