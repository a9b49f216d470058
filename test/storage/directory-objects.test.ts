import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectLookup } from '../../src/storage/directory-objects.js';
import { tmpdir } from '../helpers/tmp.js';

const object = (i: number): string => `data/ab/${String(i).padStart(38, '0')}`;

/** A storage root whose data/ab holds objects 0 … count-1. */
async function withObjects(count: number): Promise<string> {
  const root = await tmpdir();
  mkdirSync(path.join(root, 'data', 'ab'), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(path.join(root, object(i)), 'x');
  return root;
}

describe('object lookups in a directory storage', () => {
  it('answers from a listing made ahead, and looks up a name written since', async () => {
    const root = await withObjects(300);
    const lookup = new ObjectLookup(root);
    lookup.listAhead('data/ab/', 300);
    // Written after the listing: not in it, but an object all the same.
    writeFileSync(path.join(root, object(300)), 'x');
    // Listed as an object, then turned into something else: the listing is what answers.
    rmSync(path.join(root, object(0)));
    mkdirSync(path.join(root, object(0)));
    const asked = Array.from({ length: 302 }, (_, i) => object(i));
    expect(lookup.missing(asked)).toEqual([object(301)]);
    // A lookup without the listing sees the directory where object 0 was.
    expect(new ObjectLookup(root).missing(asked)).toEqual([object(0), object(301)]);
  });

  it('does not list ahead a directory far larger than the names expected of it', async () => {
    const root = await withObjects(2000);
    const lookup = new ObjectLookup(root);
    lookup.listAhead('data/ab/', 1);
    // Not listed: a name removed since is looked up, and found missing.
    rmSync(path.join(root, object(5)));
    expect(lookup.missing([object(4), object(5)])).toEqual([object(5)]);
  });
});
