import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { acquireMutex } from '../../src/mutex/index.js';
import { tmpdir } from '../helpers/tmp.js';

const MUTEX = path.resolve(import.meta.dirname, '../../dist/src/mutex/index.js');

describe('the mutex', () => {
  it('is free again the moment its holder is killed, without any cleanup', async () => {
    const file = path.join(await tmpdir(), 'm.lock');
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { acquireMutex } = await import(${JSON.stringify(MUTEX)});
         await acquireMutex(${JSON.stringify(file)}, { holder: 'the child', waitMs: 0 });
         console.log('held'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const busy: unknown = await acquireMutex(file, { holder: 'test', waitMs: 0 }).catch(
      (error: unknown) => error,
    );
    expect(isUcvmError(busy, 'REPO_LOCKED')).toBe(true);
    expect((busy as { details?: string }).details).toContain('the child');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const mutex = await acquireMutex(file, { holder: 'test', waitMs: 0 });
    mutex.release();
  });

  it('tells a waiter once who holds it, then hands over when released', async () => {
    const file = path.join(await tmpdir(), 'm.lock');
    const first = await acquireMutex(file, { holder: 'first', waitMs: 0 });
    const told: string[] = [];
    const second = acquireMutex(file, {
      holder: 'second',
      waitMs: 10_000,
      onWait: (holder) => {
        told.push(holder);
        first.release();
      },
    });
    (await second).release();
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/^first since /);
  });
});
