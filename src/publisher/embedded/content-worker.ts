import { parentPort, workerData } from 'node:worker_threads';
import { ContentPipeline, type PipelineOptions } from './content-pipeline.js';

/** A worker thread that stores file contents; see ContentPipeline. */
export interface ContentJob {
  id: number;
  source: string;
  size: number;
}

const pipeline = new ContentPipeline(workerData as PipelineOptions);
parentPort!.on('message', (job: ContentJob) => {
  try {
    parentPort!.postMessage({ id: job.id, outcome: pipeline.storeFile(job.source, job.size) });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    parentPort!.postMessage({
      id: job.id,
      error: { message: failure.message, code: failure.code, path: job.source },
    });
  }
});
