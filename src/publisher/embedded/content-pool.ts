import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UcvmError } from '../../errors.js';
import type { FileOutcome, PipelineOptions } from './content-pipeline.js';
import type { ContentJob } from './content-worker.js';

/**
 * The compiled worker script. Under the TypeScript test runner this module is a `.ts` file
 * whose sibling `.js` does not exist, and a worker thread cannot load TypeScript; it then
 * runs the build output (npm test builds first).
 */
function workerScript(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return new URL('./content-worker.js', import.meta.url);
  const built = here.replace(
    /\/src\/publisher\/embedded\/content-pool\.ts$/,
    '/dist/src/publisher/embedded/content-worker.js',
  );
  if (!existsSync(built)) {
    throw new UcvmError('COMMAND_FAILED', `the content worker ${built} is not built`, {
      details: 'Run `npm run build` first.',
    });
  }
  return new URL(`file://${built}`);
}

interface Pending {
  resolve(outcome: FileOutcome): void;
  reject(error: Error): void;
  worker: Worker;
}

/** One worker thread per core, each storing one file at a time; jobs go to the least busy. */
export class ContentWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly load = new Map<Worker, number>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(options: PipelineOptions, size = availableParallelism()) {
    const script = workerScript();
    for (let i = 0; i < Math.max(1, size); i++) {
      const worker = new Worker(script, { workerData: options });
      worker.on(
        'message',
        (message: {
          id: number;
          outcome?: FileOutcome;
          error?: { message: string; code?: string; path: string };
        }) => {
          const job = this.pending.get(message.id)!;
          this.pending.delete(message.id);
          this.load.set(worker, this.load.get(worker)! - 1);
          if (message.outcome !== undefined) job.resolve(message.outcome);
          else
            job.reject(
              new UcvmError(
                'TREE_INVALID',
                `cannot store ${message.error!.path}: ${message.error!.message}`,
                { where: { path: message.error!.path } },
              ),
            );
        },
      );
      worker.on('error', (error) => this.failAll(worker, error));
      this.workers.push(worker);
      this.load.set(worker, 0);
    }
  }

  storeFile(source: string, size: number): Promise<FileOutcome> {
    const worker = this.workers.reduce((best, candidate) =>
      this.load.get(candidate)! < this.load.get(best)! ? candidate : best,
    );
    const id = this.nextId++;
    this.load.set(worker, this.load.get(worker)! + 1);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.postMessage({ id, source, size } satisfies ContentJob);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private failAll(worker: Worker, error: Error): void {
    for (const [id, job] of this.pending) {
      if (job.worker !== worker) continue;
      this.pending.delete(id);
      job.reject(error);
    }
  }
}
