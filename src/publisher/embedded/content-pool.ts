import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UcvmError } from '../../errors.js';
import { storageError } from '../../storage/errors.js';
import type { FileOutcome, PipelineOptions } from './content-pipeline.js';
import type { ContentJob, JobFailure } from './content-worker.js';

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

/** The error a failed job becomes: the tree's fault (bad input) or the storage's (I/O). */
export function jobError(failure: JobFailure): Error {
  if (failure.phase === 'write') {
    const cause = Object.assign(new Error(failure.message), { code: failure.code });
    const error = storageError(cause, failure.path, 'write');
    return error instanceof UcvmError
      ? error
      : new UcvmError('STORAGE_IO', `cannot write ${failure.path}: ${failure.message}`);
  }
  if (failure.phase === 'read')
    return new UcvmError('TREE_INVALID', `cannot read ${failure.path}: ${failure.message}`, {
      details: 'A file of the tree changed or vanished while it was published, or is unreadable.',
    });
  return new Error(`content worker failed on ${failure.path}: ${failure.message}`);
}

interface Pending {
  resolve(outcome: FileOutcome): void;
  reject(error: Error): void;
  worker: Worker;
}

/**
 * One worker thread per core, each storing one file at a time; jobs go to the least busy. A
 * worker that dies (an uncaught error, an exit, out of memory) fails its jobs and every later
 * one with the reason: the pool never waits for an answer that cannot come.
 */
export class ContentWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly load = new Map<Worker, number>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;
  private closing = false;

  constructor(options: PipelineOptions, size = availableParallelism(), script = workerScript()) {
    for (let i = 0; i < Math.max(1, size); i++) {
      const worker = new Worker(script, { workerData: options });
      worker.on('message', (message: { id: number; outcome?: FileOutcome; error?: JobFailure }) => {
        const job = this.pending.get(message.id);
        if (job === undefined) return;
        this.pending.delete(message.id);
        this.load.set(worker, this.load.get(worker)! - 1);
        if (message.outcome !== undefined) job.resolve(message.outcome);
        else job.reject(jobError(message.error!));
      });
      worker.on('error', (error) =>
        this.fail(new Error(`a content worker failed: ${error.message}`, { cause: error })),
      );
      worker.on('messageerror', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`a content worker exited (status ${code})`));
      });
      this.workers.push(worker);
      this.load.set(worker, 0);
    }
  }

  storeFile(source: string, size: number): Promise<FileOutcome> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
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
    this.closing = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.fail(new Error('the content workers were stopped'));
  }

  /** One dead worker fails the whole pool: the publish stops with its reason. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const [id, job] of this.pending) {
      this.pending.delete(id);
      job.reject(this.failure);
    }
  }
}
