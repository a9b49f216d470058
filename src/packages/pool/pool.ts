import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { UcvmError } from '../../errors.js';
import { sha256File, tempPathFor } from '../apt/fetch.js';
import { ControlParagraph, formatControl, parseControl } from '../debian/index.js';
import type { PackageRecord, PackageSource } from '../package-source.js';
import { createPackageIndex } from '../apt/packages.js';
import {
  entryKey,
  indexStamp,
  readPoolIndex,
  withPoolLock,
  writePoolIndex,
  type PoolEntry,
} from './store.js';

export interface PoolOptions {
  /** How long `add` waits for another build that holds the pool's lock (default 60 s). */
  lockWaitMs?: number;
}

/** A package file to keep, with the verified record it was fetched against. */
export interface PoolItem {
  record: PackageRecord;
  debPath: string;
}

/**
 * A directory that keeps every .deb a published version used, so that the version can be
 * rebuilt after the archive dropped its packages (μCernVM's `cernvm-os` mirror). It holds
 * `index.json` (one entry per file: origin, SHA256, size, the system that first used it, the
 * control stanza) and `debs/`. Files are never replaced: one name, version and architecture
 * has one content forever.
 */
export interface PackagePool {
  readonly dir: string;
  /** Keeps a verified package file; a no-op if the pool has it with the same SHA256. */
  add(record: PackageRecord, debPath: string, usedBy: string): Promise<PoolEntry>;
  /** `add` for many files, with one index write. */
  addAll(items: readonly PoolItem[], usedBy: string): Promise<PoolEntry[]>;
  has(name: string, version: string, architecture: string): Promise<boolean>;
  get(name: string, version: string, architecture: string): Promise<PoolEntry | undefined>;
  /** Every entry, sorted by name, version and architecture. */
  entries(): Promise<PoolEntry[]>;
  /** The pool as a package source: its records, and files re-hashed on every fetch. */
  source(): PackageSource;
}

/** Fields that name a file in some archive; the pool keeps the rest of a stanza. */
const locationFields = new Set(['filename', 'size', 'md5sum', 'sha1', 'sha256', 'sha512']);

function quote(part: string): string {
  return part.replace(
    /[^A-Za-z0-9.+~-]/g,
    (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function poolFile(record: PackageRecord): string {
  return `debs/${quote(record.name)}_${quote(record.version)}_${quote(record.architecture)}.deb`;
}

function label(entry: { name: string; version: string; architecture: string }): string {
  return `${entry.name} ${entry.version} (${entry.architecture})`;
}

/** Checks a file against an expected SHA256 and size; PACKAGE_VERIFY naming the package if not. */
export async function verifyFile(
  file: string,
  expected: { sha256: string; size: number },
  what: string,
): Promise<void> {
  const size = (await stat(file)).size;
  const sha256 = size === expected.size ? await sha256File(file) : undefined;
  if (sha256 === expected.sha256.toLowerCase()) return;
  throw new UcvmError('PACKAGE_VERIFY', `${what}: ${file} does not match its record`, {
    details: `found ${sha256 === undefined ? `size ${size}` : `SHA256 ${sha256}`}, expected ${sha256 === undefined ? `size ${expected.size}` : `SHA256 ${expected.sha256}`}.\nThe file was damaged or replaced after it was verified.`,
  });
}

function controlText(record: PackageRecord): string {
  const fields = [...record.fields].filter(([name]) => !locationFields.has(name.toLowerCase()));
  return fields.length === 0 ? '' : formatControl(new ControlParagraph(fields));
}

export function createPool(dir: string, options: PoolOptions = {}): PackagePool {
  const root = path.resolve(dir);
  let cached: { stamp: string; byKey: Map<string, PoolEntry> } | undefined;

  async function load(): Promise<Map<string, PoolEntry>> {
    const stamp = await indexStamp(root);
    if (cached?.stamp !== stamp) {
      const entries = await readPoolIndex(root);
      cached = {
        stamp,
        byKey: new Map(entries.map((e) => [entryKey(e.name, e.version, e.architecture), e])),
      };
    }
    return cached.byKey;
  }

  async function store(
    item: PoolItem,
    byKey: Map<string, PoolEntry>,
    usedBy: string,
  ): Promise<PoolEntry> {
    const { record, debPath } = item;
    await verifyFile(debPath, record, `package ${label(record)}`);
    const existing = byKey.get(entryKey(record.name, record.version, record.architecture));
    if (existing !== undefined && existing.sha256 !== record.sha256.toLowerCase()) {
      throw new UcvmError(
        'PACKAGE_VERIFY',
        `the pool already holds ${label(record)} with other content`,
        {
          details: `pool: SHA256 ${existing.sha256} from ${existing.origin}\nnow: SHA256 ${record.sha256} from ${record.origin}\nOne version of a package must have one content; find out which archive rebuilt it.`,
        },
      );
    }
    const entry: PoolEntry = existing ?? {
      name: record.name,
      version: record.version,
      architecture: record.architecture,
      sha256: record.sha256.toLowerCase(),
      size: record.size,
      file: poolFile(record),
      origin: record.origin,
      filename: record.filename,
      firstUsedBy: usedBy,
      control: controlText(record),
    };
    const target = path.join(root, entry.file);
    const present = await verifyFile(target, entry, '').then(
      () => true,
      () => false,
    );
    if (!present) {
      await mkdir(path.dirname(target), { recursive: true });
      const temp = tempPathFor(target);
      try {
        await copyFile(debPath, temp);
        await verifyFile(temp, entry, `package ${label(entry)}`);
        await rename(temp, target);
      } finally {
        await rm(temp, { force: true });
      }
    }
    byKey.set(entryKey(entry.name, entry.version, entry.architecture), entry);
    return entry;
  }

  async function addAll(items: readonly PoolItem[], usedBy: string): Promise<PoolEntry[]> {
    return withPoolLock(root, options.lockWaitMs ?? 60_000, async () => {
      cached = undefined;
      const byKey = new Map(await load());
      const stored: PoolEntry[] = [];
      for (const item of items) stored.push(await store(item, byKey, usedBy));
      await writePoolIndex(root, [...byKey.values()]);
      cached = undefined;
      return stored;
    });
  }

  const pool: PackagePool = {
    dir: root,
    async add(record, debPath, usedBy) {
      const [entry] = await addAll([{ record, debPath }], usedBy);
      if (entry === undefined) throw new Error('unreachable: addAll returned nothing');
      return entry;
    },
    addAll,
    async has(name, version, architecture) {
      return (await load()).has(entryKey(name, version, architecture));
    },
    async get(name, version, architecture) {
      return (await load()).get(entryKey(name, version, architecture));
    },
    async entries() {
      return [...(await load()).values()].sort((a, b) => {
        const left = entryKey(a.name, a.version, a.architecture);
        const right = entryKey(b.name, b.version, b.architecture);
        return left < right ? -1 : left > right ? 1 : 0;
      });
    },
    source() {
      return poolSource(pool);
    },
  };
  return pool;
}

/** The record a pool entry stands for; `origin` says it is the pool's copy. */
export function poolRecord(pool: PackagePool, entry: PoolEntry): PackageRecord {
  const fields =
    entry.control === ''
      ? new Map<string, string>()
      : (parseControl(entry.control)[0]?.fields ?? new Map());
  return {
    name: entry.name,
    version: entry.version,
    architecture: entry.architecture,
    fields,
    filename: entry.file,
    size: entry.size,
    sha256: entry.sha256,
    origin: `pool ${pool.dir}`,
  };
}

function poolSource(pool: PackagePool): PackageSource {
  return {
    kind: 'apt',
    async index() {
      return createPackageIndex((await pool.entries()).map((entry) => poolRecord(pool, entry)));
    },
    async fetch(record) {
      const entry = await pool.get(record.name, record.version, record.architecture);
      if (entry === undefined || entry.sha256 !== record.sha256.toLowerCase()) {
        throw new UcvmError(
          'PACKAGE_MISSING',
          `the package pool has no ${label(record)} with SHA256 ${record.sha256}`,
          {
            details: `pool: ${pool.dir}`,
          },
        );
      }
      const file = path.join(pool.dir, entry.file);
      await verifyFile(file, entry, `pooled package ${label(entry)}`);
      return file;
    },
  };
}
