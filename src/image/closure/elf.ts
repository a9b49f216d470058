import { UcvmError } from '../../errors.js';

/** What the dynamic loader needs to know of an ELF file to load it. */
export interface ElfLinkage {
  /** The program interpreter (`PT_INTERP`), e.g. `/lib64/ld-linux-x86-64.so.2`; none if static or a library. */
  interpreter: string | undefined;
  /** `DT_NEEDED` entries, in order. */
  needed: string[];
  /** `DT_RUNPATH` (preferred by the loader) and `DT_RPATH` directories, `$ORIGIN` unexpanded. */
  runpath: string[];
  rpath: string[];
}

const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PT_LOAD = 1;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;
const EM_X86_64 = 62;

function corrupt(name: string, problem: string): UcvmError {
  return new UcvmError('BUILD_FAILED', `${name} is not a usable ELF file: ${problem}`, {
    where: { path: name },
  });
}

/** True if the bytes start like an ELF file. */
export function isElf(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes.readUInt32BE(0) === 0x7f454c46;
}

/**
 * Reads the linkage of a 64-bit little-endian x86-64 ELF file (the only kind the image holds).
 * Every offset is checked against the file: the bytes come from packages, not from us.
 */
export function elfLinkage(bytes: Buffer, name: string): ElfLinkage {
  if (!isElf(bytes)) throw corrupt(name, 'no ELF magic');
  if (bytes.length < 64) throw corrupt(name, 'truncated header');
  if (bytes[4] !== 2) throw corrupt(name, 'not a 64-bit ELF file');
  if (bytes[5] !== 1) throw corrupt(name, 'not little-endian');
  if (bytes.readUInt16LE(18) !== EM_X86_64) throw corrupt(name, 'not an x86-64 file');
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  if (phentsize < 56 || phoff + phnum * phentsize > bytes.length)
    throw corrupt(name, 'program headers out of the file');
  const loads: Array<{ vaddr: bigint; offset: bigint; filesz: bigint }> = [];
  let interpreter: string | undefined;
  let dynamic: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = bytes.readUInt32LE(at);
    const offset = bytes.readBigUInt64LE(at + 8);
    const vaddr = bytes.readBigUInt64LE(at + 16);
    const filesz = bytes.readBigUInt64LE(at + 32);
    if (offset + filesz > BigInt(bytes.length)) throw corrupt(name, 'a segment out of the file');
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (type === PT_INTERP)
      interpreter = cString(bytes, Number(offset), Number(offset + filesz), name);
    else if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) };
  }
  const linkage: ElfLinkage = { interpreter, needed: [], runpath: [], rpath: [] };
  if (dynamic === undefined) return linkage;
  const entries: Array<[bigint, bigint]> = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = bytes.readBigInt64LE(at);
    if (tag === DT_NULL) break;
    entries.push([tag, bytes.readBigUInt64LE(at + 8)]);
  }
  const strtab = entries.find(([tag]) => tag === DT_STRTAB)?.[1];
  const strsz = entries.find(([tag]) => tag === DT_STRSZ)?.[1];
  if (strtab === undefined || strsz === undefined) throw corrupt(name, 'no string table');
  // DT_STRTAB is an address: find the loaded segment that holds it.
  const segment = loads.find((load) => strtab >= load.vaddr && strtab < load.vaddr + load.filesz);
  if (segment === undefined) throw corrupt(name, 'string table outside the loaded segments');
  const start = Number(segment.offset + (strtab - segment.vaddr));
  const end = start + Number(strsz);
  if (end > bytes.length) throw corrupt(name, 'string table out of the file');
  const string = (offset: bigint): string => {
    if (offset >= strsz) throw corrupt(name, 'a string outside the string table');
    return cString(bytes, start + Number(offset), end, name);
  };
  for (const [tag, value] of entries) {
    if (tag === DT_NEEDED) linkage.needed.push(string(value));
    else if (tag === DT_RUNPATH) linkage.runpath.push(...string(value).split(':').filter(Boolean));
    else if (tag === DT_RPATH) linkage.rpath.push(...string(value).split(':').filter(Boolean));
  }
  return linkage;
}

function cString(bytes: Buffer, start: number, end: number, name: string): string {
  const nul = bytes.indexOf(0, start);
  if (nul < 0 || nul >= end) throw corrupt(name, 'an unterminated string');
  return bytes.toString('utf8', start, nul);
}
