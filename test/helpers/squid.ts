import { spawn } from 'node:child_process';
import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { killOnExit } from './kill-on-exit.js';

/**
 * A real Debian squid (`/usr/sbin/squid`, package `squid`) as a caching forward proxy on
 * 127.0.0.1 for tests: a generated minimal configuration in a temp directory, memory cache
 * only (no `cache_dir`, so no `squid -z`), foreground (`-N`), one process per call.
 *
 * Only 127.0.0.1 may use it. It fetches from any origin it is asked for, 127.0.0.1 included
 * (the configuration has no `http_access deny to_localhost`), so a test origin server on
 * 127.0.0.1 works. A guest in QEMU reaches it through a guestfwd entry (test/helpers/qemu.ts),
 * whose relay connects from 127.0.0.1.
 */

export const SQUID_BINARY = '/usr/sbin/squid';

/** Why squid tests cannot run here, or undefined when they can. */
export function squidSkipReason(binary = SQUID_BINARY): string | undefined {
  if (!existsSync(binary))
    return `squid is not installed here (${binary}; Debian package squid, see .ci/install); skipped, not passed`;
  if (process.getuid?.() === 0 && proxyUser() === undefined)
    return 'squid runs as root here but there is no "proxy" user to drop privileges to; skipped, not passed';
  return undefined;
}

export function squidAvailable(binary = SQUID_BINARY): boolean {
  return squidSkipReason(binary) === undefined;
}

export interface SquidOptions {
  /** Default /usr/sbin/squid. */
  binary?: string;
  /** `cache_mem`, default 64 MB. */
  cacheMemMiB?: number;
  /** `maximum_object_size`, default 512 MB. */
  maximumObjectSizeMiB?: number;
  /** `maximum_object_size_in_memory`, default 64 MB. */
  maximumObjectSizeInMemoryMiB?: number;
  /** Lines appended to the generated configuration (later lines win where squid allows). */
  extraConfig?: readonly string[];
  /** How long to wait for squid to listen, default 20 s (then an error with cache.log). */
  startTimeoutMs?: number;
}

/** One line of squid's native access log format (`logformat squid`). */
export interface AccessLogEntry {
  /** Seconds since the epoch, with milliseconds. */
  time: number;
  elapsedMs: number;
  client: string;
  /** Squid's result code: TCP_MISS, TCP_HIT, TCP_MEM_HIT, TCP_REFRESH_UNMODIFIED, TCP_DENIED, … */
  status: string;
  /** The HTTP status sent to the client (0 when none was). */
  httpStatus: number;
  /** Bytes sent to the client, headers included. */
  bytes: number;
  method: string;
  url: string;
  /** e.g. HIER_DIRECT/127.0.0.1, HIER_NONE/- */
  hierarchy: string;
  contentType: string;
}

export interface Squid {
  port: number;
  /** `http://127.0.0.1:<port>`: the proxy URL (no trailing slash). */
  url: string;
  /** The temp directory holding the configuration and the logs (removed by stop). */
  dir: string;
  /** The access log's text so far. */
  accessLog(): string;
  /** The access log parsed. */
  entries(): AccessLogEntry[];
  /**
   * Waits until the access log has at least `count` entries (squid writes an entry when it has
   * finished a transaction, which may be a moment after the client got its last byte).
   */
  waitForEntries(count: number, timeoutMs?: number): Promise<AccessLogEntry[]>;
  /** cache.log so far (startup messages, warnings, errors). */
  cacheLog(): string;
  stop(): Promise<void>;
}

/** Parses squid's native access log format; lines that do not fit are skipped. */
export function parseAccessLog(text: string): AccessLogEntry[] {
  const entries: AccessLogEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [time, elapsed, client, result, bytes, method, url, , hierarchy, contentType] = fields;
    const slash = result!.lastIndexOf('/');
    if (slash < 0) continue;
    entries.push({
      time: Number(time),
      elapsedMs: Number(elapsed),
      client: client!,
      status: result!.slice(0, slash),
      httpStatus: Number(result!.slice(slash + 1)),
      bytes: Number(bytes),
      method: method!,
      url: url!,
      hierarchy: hierarchy!,
      contentType: contentType!,
    });
  }
  return entries;
}

/**
 * Served from squid's cache without asking the origin: TCP_HIT, TCP_MEM_HIT, TCP_IMS_HIT,
 * TCP_INM_HIT, TCP_NEGATIVE_HIT, TCP_OFFLINE_HIT (a revalidation, TCP_REFRESH_UNMODIFIED,
 * asked the origin and is not counted).
 */
export function isHit(entry: AccessLogEntry): boolean {
  return /^TCP_(?:[A-Z]+_)?HIT$/.test(entry.status);
}

export interface HitCount {
  hits: number;
  misses: number;
  total: number;
}

/** Hits and the rest (misses, revalidations, denials), over a log text or parsed entries. */
export function countHits(log: string | readonly AccessLogEntry[]): HitCount {
  const entries = typeof log === 'string' ? parseAccessLog(log) : log;
  const hits = entries.filter(isHit).length;
  return { hits, misses: entries.length - hits, total: entries.length };
}

function proxyUser(): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'proxy') return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no passwd file: no proxy user
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * squid logs "Accepting HTTP Socket connections at … local=127.0.0.1:<port>" once it listens.
 * Read from cache.log rather than probed with a connection, which squid would log as an
 * access (NONE_NONE/000 error:transaction-end-before-headers).
 */
function listening(cacheLog: string, port: number): boolean {
  return cacheLog
    .split('\n')
    .some(
      (line) =>
        line.includes('Accepting HTTP Socket connections') &&
        line.includes(`local=127.0.0.1:${port} `),
    );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function readOr(file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function squidConfig(dir: string, port: number, options: SquidOptions, asRoot: boolean): string {
  const file = (name: string): string => path.join(dir, name);
  return [
    `http_port 127.0.0.1:${port}`,
    'visible_hostname ucvm-test-squid',
    // Not the predefined "localhost" ACL: redefining a built-in ACL draws warnings.
    'acl harness_clients src 127.0.0.1',
    'http_access allow harness_clients',
    'http_access deny all',
    // Memory cache only: no cache_dir, hence no `squid -z`.
    `cache_mem ${options.cacheMemMiB ?? 64} MB`,
    `maximum_object_size ${options.maximumObjectSizeMiB ?? 512} MB`,
    `maximum_object_size_in_memory ${options.maximumObjectSizeInMemoryMiB ?? 64} MB`,
    ...(asRoot ? ['cache_effective_user proxy'] : []),
    `pid_filename ${file('squid.pid')}`,
    `access_log stdio:${file('access.log')}`,
    `cache_log ${file('cache.log')}`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    'netdb_filename none',
    'pinger_enable off',
    'logfile_rotate 0',
    'shutdown_lifetime 0 seconds',
    ...(options.extraConfig ?? []),
    '',
  ].join('\n');
}

async function startOnce(options: SquidOptions, port: number): Promise<Squid> {
  const binary = options.binary ?? SQUID_BINARY;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ucvm-squid-'));
  const asRoot = process.getuid?.() === 0;
  const config = path.join(dir, 'squid.conf');
  writeFileSync(config, squidConfig(dir, port, options, asRoot));
  if (asRoot) {
    // squid refuses to work as root and drops to "proxy", which must write the logs here.
    const user = proxyUser();
    if (user === undefined) throw new Error('squid as root needs a "proxy" user');
    chownSync(dir, user.uid, user.gid);
  }
  const child = spawn(binary, ['-f', config, '-N', '-d1'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));

  const accessLogFile = path.join(dir, 'access.log');
  const cacheLogFile = path.join(dir, 'cache.log');
  const stop = async (): Promise<void> => {
    if (exited === undefined && spawnError === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    if (spawnError !== undefined || exited !== undefined) {
      const log = readOr(cacheLogFile, output);
      await rm(dir, { recursive: true, force: true });
      const how =
        spawnError !== undefined
          ? `could not be started (${spawnError.message})`
          : `exited (${exited!.code ?? exited!.signal})`;
      throw Object.assign(new Error(`squid ${how} before accepting connections:\n${log}`), {
        squidOutput: log,
      });
    }
    if (listening(readOr(cacheLogFile), port)) break;
    if (Date.now() > deadline) {
      const log = readOr(cacheLogFile, output);
      await stop();
      throw new Error(
        `squid did not accept connections on 127.0.0.1:${port} within ${options.startTimeoutMs ?? 20_000} ms:\n${log}`,
      );
    }
    await sleep(100);
  }

  const accessLog = (): string => readOr(accessLogFile);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    dir,
    accessLog,
    entries: () => parseAccessLog(accessLog()),
    waitForEntries: async (count, timeoutMs = 5_000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const entries = parseAccessLog(accessLog());
        if (entries.length >= count) return entries;
        if (Date.now() > until)
          throw new Error(
            `squid's access log has ${entries.length} entries, not ${count}, after ${timeoutMs} ms:\n${accessLog()}`,
          );
        await sleep(50);
      }
    },
    cacheLog: () => readOr(cacheLogFile, output),
    stop,
  };
}

/**
 * Starts squid on 127.0.0.1 on a free port and resolves once squid says it listens (cache.log).
 * Call `stop()` (e.g. in afterAll): it terminates squid (`shutdown_lifetime 0`) and removes its
 * directory.
 */
export async function startSquid(options: SquidOptions = {}): Promise<Squid> {
  const reason = squidSkipReason(options.binary);
  if (reason !== undefined) throw new Error(reason);
  // The free port is probed and released before squid binds it; another process may take it
  // in between, so a bind failure is retried on another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOnce(options, port);
    } catch (error) {
      const log = (error as { squidOutput?: string }).squidOutput ?? '';
      if (
        attempt >= 3 ||
        !/Address already in use|Cannot bind|Unable to open HTTP Socket/i.test(log)
      )
        throw error;
    }
  }
}
