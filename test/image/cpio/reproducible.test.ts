import { chmod, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CpioEntry } from '../../../src/image/cpio/index.js';
import { buildCpio, cpioChunks, writeCpioFile } from '../../../src/image/cpio/index.js';
import { tmpdir } from '../../helpers/tmp.js';
import { epoch, hostBytes, parseNewc, sampleEntries, sha256 } from './fixtures.js';

/** A fixed shuffle, so a failure can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i -= 1) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe('reproducible archives', () => {
  it('gives the same bytes for the same input, whatever order the entries come in', async () => {
    const entries = await sampleEntries(await tmpdir());
    const first = sha256(await buildCpio(entries, { sourceDateEpoch: epoch }));
    expect(sha256(await buildCpio(entries, { sourceDateEpoch: epoch }))).toBe(first);
    expect(sha256(await buildCpio([...entries].reverse(), { sourceDateEpoch: epoch }))).toBe(first);
    for (const seed of [1, 2, 3]) {
      expect(sha256(await buildCpio(shuffled(entries, seed), { sourceDateEpoch: epoch }))).toBe(
        first,
      );
    }
  });

  it('writes the same bytes to a file and as a stream', async () => {
    const dir = await tmpdir();
    const entries = await sampleEntries(dir);
    const file = path.join(dir, 'initramfs.cpio');
    await writeCpioFile(entries, file, { sourceDateEpoch: epoch });
    const chunks: Buffer[] = [];
    for await (const chunk of cpioChunks(entries, { sourceDateEpoch: epoch })) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(10);
    expect(sha256(await readFile(file))).toBe(sha256(Buffer.concat(chunks)));
  });

  it("takes only a host file's bytes: its mode, mtime and name do not reach the archive", async () => {
    const dir = await tmpdir();
    const entries = await sampleEntries(dir);
    const before = sha256(await buildCpio(entries, { sourceDateEpoch: epoch }));
    const hostFile = path.join(dir, 'host-file');
    await chmod(hostFile, 0o755);
    await utimes(hostFile, 1_234_567, 1_234_567);
    expect(sha256(await buildCpio(entries, { sourceDateEpoch: epoch }))).toBe(before);
    const asBytes = entries.map((entry): CpioEntry =>
      entry.type === 'file' && 'source' in entry
        ? { type: 'file', path: entry.path, content: hostBytes }
        : entry,
    );
    expect(sha256(await buildCpio(asBytes, { sourceDateEpoch: epoch }))).toBe(before);
  });

  it('differs for another SOURCE_DATE_EPOCH in the mtime fields only', async () => {
    const entries = await sampleEntries(await tmpdir());
    const a = await buildCpio(entries, { sourceDateEpoch: epoch });
    const b = await buildCpio(entries, { sourceDateEpoch: epoch + 1 });
    expect(b.length).toBe(a.length);
    const records = parseNewc(a);
    const mtimeBytes = new Set(
      records
        .filter((record) => record.name !== 'TRAILER!!!')
        .flatMap((record) => Array.from({ length: 8 }, (_, i) => record.mtimeOffset + i)),
    );
    const differing = [...a.keys()].filter((i) => a[i] !== b[i]);
    expect(differing.length).toBe(records.length - 1);
    for (const offset of differing) expect(mtimeBytes.has(offset), `byte ${offset}`).toBe(true);
    expect(parseNewc(b).map((record) => record.fields[5])).toEqual([
      ...Array<number>(records.length - 1).fill(epoch + 1),
      0,
    ]);
  });

  it('numbers inodes in output order and keeps the build machine out of the device fields', async () => {
    const archive = await buildCpio(await sampleEntries(await tmpdir()), {
      sourceDateEpoch: epoch,
    });
    const records = parseNewc(archive).filter((record) => record.name !== 'TRAILER!!!');
    expect(records[0]?.name).toBe('.');
    const inodes = records.map((record) => record.fields[0]);
    // usr/bin/ash, busybox and sh are one inode.
    const distinct = [...new Set(inodes)];
    expect(distinct).toEqual(Array.from({ length: distinct.length }, (_, i) => i + 1));
    expect(distinct.length).toBe(records.length - 2);
    for (const record of records) {
      expect([record.fields[7], record.fields[8]], record.name).toEqual([0, 0]);
    }
  });
});
