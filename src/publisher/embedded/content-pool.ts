import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import TinyQueue from 'tinyqueue';
import { UcvmError } from '../../errors.js';
import { storageError } from '../../storage/errors.js';
import type { FileOutcome, PipelineOptions } from './content-pipeline.js';
import type {
  BatchResult,
  ContentJob,
  JobFailure,
  WorkerReply,
  WorkerRequest,
} from './content-worker.js';

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

interface Job {
  id: number;
  source: string;
  size: number;
  resolve(outcome: FileOutcome): void;
  reject(error: Error): void;
}

/** Larger files first; of equal size, the one handed over first. */
const largestFirst = (a: Job, b: Job): number => b.size - a.size || a.id - b.id;

/** A batch ends at this many files or bytes, whichever comes first (at least one file). */
const BATCH_FILES = 64;
const BATCH_BYTES = 4 * 1024 * 1024;
/** The other workers start once more files than this, or more bytes, wait (see grow). */
const GROW_FILES = 256;
const GROW_BYTES = 8 * 1024 * 1024;
/** Batches a worker holds: one to work on, one waiting, so that it never idles for a message. */
const BATCHES_IN_FLIGHT = 2;

/**
 * Up to one worker thread per core, each storing one file at a time. Files queue here, the largest
 * first (a large file started last would leave the other cores idle at the end), and go out in
 * batches (one message for many small files) to whichever worker has room, so that a worker
 * busy with a large file does not hold up the rest. A worker that dies
 * (an uncaught error, an exit, out of memory) fails its jobs and every later one with the
 * reason: the pool never waits for an answer that cannot come.
 */
export class ContentWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly inFlight = new Map<Worker, number>();
  private readonly pending = new Map<number, Job>();
  private readonly checks = new Map<
    number,
    {
      parts: number;
      missing: string[];
      resolve(missing: string[]): void;
      reject(error: Error): void;
    }
  >();
  private queue = new TinyQueue<Job>([], largestFirst);
  private nextId = 0;
  private scheduled = false;
  private readonly checksToPost: Array<() => void> = [];
  /** The worker that lists the object directories ahead, if one was asked to (see listAhead). */
  private lister: Worker | undefined;
  private failure: Error | undefined;
  private cancelled: Error | undefined;
  private closing = false;

  private readonly maxSize: number;
  /** Bytes of the files queued and not yet with a worker. */
  private queuedBytes = 0;

  /** Starts with one worker; up to `size` while enough files wait (see grow). */
  constructor(
    private readonly options: PipelineOptions,
    size = availableParallelism(),
    private readonly script = workerScript(),
  ) {
    this.maxSize = Math.max(1, size);
    this.addWorker();
  }

  private addWorker(): void {
    const worker = new Worker(this.script, { workerData: this.options });
    worker.on('message', (reply: WorkerReply) => {
      if ('check' in reply) this.settleCheck(reply.check);
      else this.settle(worker, reply.files);
    });
    worker.on('error', (error) =>
      this.fail(new Error(`a content worker failed: ${error.message}`, { cause: error })),
    );
    worker.on('messageerror', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`a content worker exited (status ${code})`));
    });
    this.workers.push(worker);
    this.inFlight.set(worker, 0);
  }

  /**
   * A worker for every core once more than GROW_FILES files or GROW_BYTES bytes wait: a small
   * republish (a few hundred changed files) is done by the first one alone, and starting the
   * others would only compete with its scan; a large publish has every core at work within
   * milliseconds.
   */
  private grow(): void {
    while (
      this.workers.length < this.maxSize &&
      (this.queue.length > GROW_FILES || this.queuedBytes > GROW_BYTES)
    )
      this.addWorker();
  }

  get size(): number {
    return this.workers.length;
  }

  storeFile(source: string, size: number): Promise<FileOutcome> {
    const refused = this.failure ?? this.cancelled;
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, source, size, resolve, reject });
      this.queuedBytes += size;
      // Files handed over in one go leave in full batches, not one by one, largest first.
      this.schedule();
    });
  }

  /**
   * Tells the workers that about `expected` object names will be looked for (see `missing`):
   * the first worker then lists the object directories where that is cheaper than looking the
   * names up, in the time it has between files, and later answers every check from its listings.
   */
  listAhead(expected: number): void {
    if (this.failure !== undefined || this.lister !== undefined) return;
    this.lister = this.workers[0]!;
    this.lister.postMessage({ listAhead: { expected } } satisfies WorkerRequest);
  }

  /**
   * The names among `names` that do not exist in the storage the workers write to, looked up
   * beside the files they store: by the worker that listed the object directories ahead, else by
   * every worker at once (a share each).
   */
  missing(names: readonly string[]): Promise<string[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (names.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const check = { parts: 0, missing: [] as string[], resolve, reject };
      this.checks.set(id, check);
      // Posted now, behind the files handed over before (a publish waits for its changed files
      // first, and for the check only before it signs): to the worker with the listings, else a
      // share to each worker there is then.
      // Not on the next turn of the event loop: a publish busy building catalogs would hold
      // the workers idle until its first wait for I/O.
      this.checksToPost.push(() => {
        const workers = this.lister === undefined ? this.workers : [this.lister];
        const share = Math.ceil(names.length / workers.length);
        const parts = workers.filter((_, i) => i * share < names.length);
        check.parts = parts.length;
        parts.forEach((worker, i) =>
          worker.postMessage({
            check: { id, names: names.slice(i * share, (i + 1) * share) },
          } satisfies WorkerRequest),
        );
      });
      this.dispatch();
    });
  }

  /**
   * Refuses the files not yet handed to a worker, and every later one, with `reason`; the files
   * the workers hold are finished, so that what they write is known.
   */
  cancel(reason: Error): void {
    this.cancelled ??= reason;
    const queued = this.queue.data;
    this.queue = new TinyQueue<Job>([], largestFirst);
    this.queuedBytes = 0;
    for (const job of queued) job.reject(this.cancelled);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.fail(new Error('the content workers were stopped'));
  }

  private dispatch(): void {
    if (this.failure !== undefined) return;
    this.grow();
    const { queue } = this;
    for (const worker of this.workers) {
      while (this.inFlight.get(worker)! < BATCHES_IN_FLIGHT && queue.length > 0) {
        const batch: ContentJob[] = [];
        let bytes = 0;
        while (
          queue.length > 0 &&
          batch.length < BATCH_FILES &&
          (batch.length === 0 || bytes + queue.peek()!.size <= BATCH_BYTES)
        ) {
          const job = queue.pop()!;
          this.queuedBytes -= job.size;
          this.pending.set(job.id, job);
          batch.push({ id: job.id, source: job.source, size: job.size });
          bytes += job.size;
        }
        this.inFlight.set(worker, this.inFlight.get(worker)! + 1);
        worker.postMessage({ files: batch } satisfies WorkerRequest);
      }
    }
    for (const post of this.checksToPost.splice(0)) post();
  }

  private settle(worker: Worker, results: BatchResult): void {
    this.inFlight.set(worker, this.inFlight.get(worker)! - 1);
    for (const result of results) {
      const job = this.pending.get(result.id);
      if (job === undefined) continue;
      this.pending.delete(result.id);
      if (result.outcome !== undefined) job.resolve(result.outcome);
      else job.reject(jobError(result.error!));
    }
    this.dispatch();
  }

  private settleCheck({ id, missing }: { id: number; missing: string[] }): void {
    const check = this.checks.get(id);
    if (check === undefined) return;
    check.missing.push(...missing);
    if (--check.parts > 0) return;
    this.checks.delete(id);
    check.resolve(check.missing);
  }

  /** One dead worker fails the whole pool: the publish stops with its reason. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const job of [...this.pending.values(), ...this.queue.data]) job.reject(this.failure);
    this.pending.clear();
    this.queue = new TinyQueue<Job>([], largestFirst);
    this.queuedBytes = 0;
    for (const check of this.checks.values()) check.reject(this.failure);
    this.checks.clear();
    this.checksToPost.length = 0;
  }
}
