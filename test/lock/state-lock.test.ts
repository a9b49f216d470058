import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../src/errors.js';
import { withStateLock } from '../../src/lock/state-lock.js';
import { tmpdir } from '../helpers/tmp.js';

describe('withStateLock', () => {
  it('runs one holder at a time', async () => {
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
  });

  it('fails naming the state directory when the wait is over', async () => {
    const dir = await tmpdir();
    let release: () => void = () => {};
    const held = withStateLock(dir, () => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const error: unknown = await withStateLock(dir, () => Promise.resolve('ran'), 300).catch(
      (caught: unknown) => caught,
    );
    release();
    await held;
    expect(isUcvmError(error, 'REPO_LOCKED')).toBe(true);
    expect((error as Error).message).toContain(dir);
    expect(await withStateLock(dir, () => Promise.resolve('ran'))).toBe('ran');
  });
});
