/** The newc ("SVR4 without CRC") magic. */
export const newcMagic = '070701';
export const headerSize = 110;
export const trailerName = 'TRAILER!!!';
export const maxField = 0xffff_ffff;

/** The numeric fields of a newc header, in the order they are written. */
export interface NewcFields {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  fileSize: number;
  /** The device the entry came from: always 0 here, the build machine's is none of the archive's business. */
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
}

/** Zero bytes that bring `length` to a multiple of 4. */
export function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** Header, name, NUL and padding of one entry: everything before its data. */
export function encodeHeader(name: string, fields: NewcFields): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const numbers = [
    fields.ino,
    fields.mode,
    fields.uid,
    fields.gid,
    fields.nlink,
    fields.mtime,
    fields.fileSize,
    fields.devMajor,
    fields.devMinor,
    fields.rdevMajor,
    fields.rdevMinor,
    nameBytes.length,
    0, // check: only the "crc" format (070702) fills it
  ];
  const header = Buffer.from(newcMagic + numbers.map(hex8).join(''), 'latin1');
  return Buffer.concat([header, nameBytes, padding(headerSize + nameBytes.length)]);
}

/** The entry that ends every archive. */
export function encodeTrailer(): Buffer {
  return encodeHeader(trailerName, {
    ino: 0,
    mode: 0,
    uid: 0,
    gid: 0,
    nlink: 1,
    mtime: 0,
    fileSize: 0,
    devMajor: 0,
    devMinor: 0,
    rdevMajor: 0,
    rdevMinor: 0,
  });
}
