import { describe, expect, it } from 'vitest';
import { buildCpio, encodeHeader } from '../../../src/image/cpio/index.js';
import { epoch } from './fixtures.js';

/** A newc header written out by hand: magic, then 13 fields of 8 hex digits. */
function hexHeader(fields: string[]): string {
  expect(fields).toHaveLength(13);
  return `070701${fields.join('')}`;
}

describe('newc header', () => {
  it('encodes one entry field by field, the name NUL-terminated and padded to 4 bytes', () => {
    const header = encodeHeader('init', {
      ino: 2,
      mode: 0o100755,
      uid: 0,
      gid: 0,
      nlink: 1,
      mtime: epoch,
      fileSize: 5,
      devMajor: 0,
      devMinor: 0,
      rdevMajor: 0,
      rdevMinor: 0,
    });
    const expected = hexHeader([
      '00000002', // ino
      '000081ed', // mode: regular file 0755
      '00000000', // uid
      '00000000', // gid
      '00000001', // nlink
      '5f5e1000', // mtime 1600000000
      '00000005', // filesize
      '00000000', // devmajor
      '00000000', // devminor
      '00000000', // rdevmajor
      '00000000', // rdevminor
      '00000005', // namesize: "init" and its NUL
      '00000000', // check
    ]);
    // 110 + 5 = 115 bytes, so one byte of padding.
    expect(header.toString('latin1')).toBe(`${expected}init\0\0`);
  });

  it('writes a one-file archive byte for byte: the root, the file, its padded data, the trailer', async () => {
    const archive = await buildCpio(
      [{ type: 'file', path: '/init', mode: 0o755, content: Buffer.from('echo\n') }],
      { sourceDateEpoch: epoch },
    );
    const zero = '00000000';
    const root = hexHeader([
      '00000001',
      '000041ed',
      zero,
      zero,
      '00000002',
      '5f5e1000',
      zero,
      zero,
      zero,
      zero,
      zero,
      '00000002',
      zero,
    ]);
    const init = hexHeader([
      '00000002',
      '000081ed',
      zero,
      zero,
      '00000001',
      '5f5e1000',
      '00000005',
      zero,
      zero,
      zero,
      zero,
      '00000005',
      zero,
    ]);
    const trailer = hexHeader([
      zero,
      zero,
      zero,
      zero,
      '00000001',
      zero,
      zero,
      zero,
      zero,
      zero,
      zero,
      '0000000b',
      zero,
    ]);
    const expected = `${root}.\0` + `${init}init\0\0echo\n\0\0\0` + `${trailer}TRAILER!!!\0\0\0\0`;
    expect(archive.toString('latin1')).toBe(expected);
    expect(archive.length % 4).toBe(0);
  });
});
