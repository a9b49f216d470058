export type {
  CpioEntry,
  CpioOptions,
  DeviceEntry,
  DirectoryEntry,
  FileFromBytes,
  FileFromHost,
  HardLinkEntry,
  SymlinkEntry,
} from './entries.js';
export { compressArchive, compressedSuffix } from './compress.js';
export type { CompressionFormat } from './compress.js';
export { encodeHeader, encodeTrailer, newcMagic } from './header.js';
export type { NewcFields } from './header.js';
export { planArchive } from './plan.js';
export type { ArchiveRecord, RecordBody } from './plan.js';
export { buildCpio, cpioChunks, writeCpioFile } from './write.js';
