import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { withStateLock } from '../../src/lock/state-lock.js';
import { tmpdir } from '../helpers/tmp.js';

describe('withStateLock', () => {
  it('runs one holder at a time and removes the lock after', async () => {
    const dir = await tmpdir();
    const order: string[] = [];
    const job = (name: string) =>
      withStateLock(dir, async () => {
        order.push(`${name} in`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        order.push(`${name} out`);
      });
    await Promise.all([job('a'), job('b')]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);
    await expect(readFile(path.join(dir, 'ucvm.lock'))).rejects.toThrow();
  });

  it('takes over the lock of a process that is gone, and times out on a live one', async () => {
    const dir = await tmpdir();
    await writeFile(path.join(dir, 'ucvm.lock'), '999999999\n');
    expect(await withStateLock(dir, () => Promise.resolve('ran'))).toBe('ran');
    await writeFile(path.join(dir, 'ucvm.lock'), `${process.pid}\n`);
    const error: unknown = await withStateLock(dir, () => Promise.resolve('ran'), 300).catch(
      (caught: unknown) => caught,
    );
    expect(isUcvmError(error, 'REPO_LOCKED')).toBe(true);
  });
});
