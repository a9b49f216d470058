/**
 * Detects work that can never finish. When a promise chain deadlocks with no I/O or timer
 * pending, Node empties its event loop and exits with status 0 as if all went well; here
 * `beforeExit` turns that into an error for the step that was waiting, so the benchmark
 * records it and goes on.
 */
const waiting = new Set<() => void>();

process.on('beforeExit', () => {
  const handlers = [...waiting];
  waiting.clear();
  for (const handler of handlers) handler();
});

export class StallError extends Error {
  override readonly name = 'StallError';
}

export function failOnStall<T>(work: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onStall = (): void =>
      reject(
        new StallError(
          `${what} never settled: the event loop ran empty while it was pending (a promise deadlock; without this guard node would exit 0 silently)`,
        ),
      );
    waiting.add(onStall);
    work.then(
      (value) => {
        waiting.delete(onStall);
        resolve(value);
      },
      (error: unknown) => {
        waiting.delete(onStall);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
