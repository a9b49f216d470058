import { execFile, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, openSync, closeSync, type WriteStream } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { killOnExit } from './kill-on-exit.js';

/**
 * A boot harness for tests: `qemu-system-x86_64 -accel tcg` (this machine has no usable KVM;
 * TCG boots a small kernel + initramfs in seconds), the console on the first serial port
 * collected as text, user networking that reaches the host only where a test says so.
 *
 * Guest networking (QEMU user networking, "slirp", with `restrict=on`):
 * - the network is `net` (default 10.0.2.0/24): the guest is .15 (DHCP hands it out; a static
 *   `ip addr add 10.0.2.15/24 dev eth0` works just as well), the gateway .2, DNS .3;
 * - `restrict=on` isolates the guest: no connection leaves the VM except through a guestfwd
 *   entry. A guestfwd entry makes a guest address:port reach a host port, e.g. a proxy at
 *   10.0.2.100:3128 → squid on 127.0.0.1 (test/helpers/squid.ts), a repository at
 *   10.0.2.100:8080 → a test HTTP server on 127.0.0.1;
 * - QEMU refuses a guestfwd address outside `net`, or on the gateway or DNS address
 *   ("Conflicting/invalid host:port in guest forwarding rule"): 169.254.169.254 is outside
 *   10.0.2.0/24. The workaround is a link-local network, `net: '169.254.0.0/16'` (guest
 *   169.254.0.15, gateway 169.254.0.2, DNS 169.254.0.3), in which a metadata server at
 *   169.254.169.254:80 is an ordinary guestfwd entry. bootVm checks this before QEMU starts.
 * - QEMU's own `guestfwd=tcp:IP:PORT-tcp:127.0.0.1:HOSTPORT` form is a chardev: QEMU connects
 *   to the host port once, when it starts (the server must already listen), and every guest
 *   connection shares that one host connection: a second HTTP request hangs. So each entry here
 *   is `guestfwd=tcp:IP:PORT-cmd:busybox nc 127.0.0.1 HOSTPORT`: QEMU runs the relay per guest
 *   connection, so any number of connections work, and the host server may start later. The
 *   relay is the static busybox of Debian's busybox-static (already a test dependency).
 */

export const QEMU_BINARY = 'qemu-system-x86_64';

const execFileAsync = promisify(execFile);

function onPath(program: string): string | undefined {
  if (program.includes('/')) return existsSync(program) ? program : undefined;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const candidate = path.join(dir, program);
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The static busybox the guestfwd relay (and test initramfs images) use. */
export function findBusybox(): string | undefined {
  return ['/bin/busybox', '/usr/bin/busybox'].find((file) => existsSync(file));
}

/** Why QEMU boots cannot run here, or undefined when they can. */
export function qemuSkipReason(binary = QEMU_BINARY): string | undefined {
  if (onPath(binary) === undefined)
    return `${binary} is not installed here (Debian package qemu-system-x86, see .ci/install); skipped, not passed`;
  if (findBusybox() === undefined)
    return 'busybox (Debian busybox-static) is not installed here: the guestfwd relay needs it; skipped, not passed';
  return undefined;
}

export function qemuAvailable(binary = QEMU_BINARY): boolean {
  return qemuSkipReason(binary) === undefined;
}

/**
 * The UEFI firmware of Debian's ovmf package. Bookworm ships both the 4 MiB build
 * (OVMF_CODE_4M.fd + OVMF_VARS_4M.fd, the default since bookworm) and the 2 MiB one
 * (OVMF_CODE.fd + OVMF_VARS.fd); code and variables must come from the same pair.
 */
export function findOvmf(dir = '/usr/share/OVMF'): { code: string; vars: string } | undefined {
  for (const [code, vars] of [
    ['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd'],
    ['OVMF_CODE.fd', 'OVMF_VARS.fd'],
  ] as const) {
    if (existsSync(path.join(dir, code)) && existsSync(path.join(dir, vars)))
      return { code: path.join(dir, code), vars: path.join(dir, vars) };
  }
  return undefined;
}

export interface VmDisk {
  file: string;
  /** Default raw. */
  format?: 'raw' | 'qcow2';
  readonly?: boolean;
  /** The virtio-blk serial (the guest sees it in /sys/block/vdX/serial and /dev/disk/by-id). */
  serial?: string;
  /** Writes go to a temporary overlay, the file stays as it was (`snapshot=on`). */
  snapshot?: boolean;
}

export interface GuestForward {
  /** A guest address inside `net`, not the gateway (.2) or DNS (.3). */
  guestIp: string;
  guestPort: number;
  /** The port on the host's 127.0.0.1 it reaches. */
  hostPort: number;
}

export interface BootOptions {
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Boots from this CD image (an IDE CD on the machine's own controller, boot index 0). */
  iso?: string;
  /** virtio-blk disks, in order: vda, vdb, … */
  disks?: readonly VmDisk[];
  /** Boots OVMF (a private copy of its variable store in a temp dir) instead of SeaBIOS. */
  uefi?: boolean;
  /** Default 1024. */
  memoryMiB?: number;
  /** Default 1. */
  cpus?: number;
  /** `-cpu`, e.g. 'max'; default QEMU's (qemu64 under TCG). */
  cpu?: string;
  /** Default q35. */
  machine?: string;
  /** Default tcg. */
  accel?: 'tcg' | 'kvm';
  /** The user network, default 10.0.2.0/24. */
  net?: string;
  /** The only ways out of the VM (see the top of this file). */
  guestfwd?: readonly GuestForward[];
  /** No network device at all. */
  noNetwork?: boolean;
  /** Rejects when the VM has not finished (until seen, or QEMU exited) by then; default 180 s. */
  timeoutMs?: number;
  /** Resolves when the console shows this (then stops QEMU unless keepRunning). */
  until?: string | RegExp;
  /** Rejects when the console shows one of these; default a kernel panic. [] for none. */
  failOn?: readonly RegExp[];
  /** Leaves QEMU running once `until` is seen: call `stop()`. */
  keepRunning?: boolean;
  /** Also writes the console (as received) to this file. */
  logFile?: string;
  /** More QEMU arguments, appended. */
  extraArgs?: readonly string[];
  /** Each piece of console output as it arrives (e.g. to stream it in a debug session). */
  onConsole?: (text: string) => void;
  /** Default qemu-system-x86_64 on PATH. */
  binary?: string;
}

export interface VmResult {
  /** The serial console, `\r` removed. */
  console: string;
  /** QEMU's own messages. */
  stderr: string;
  /** `until` was seen. */
  matched: boolean;
  /** null while QEMU runs (keepRunning) or when a signal ended it. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** From spawning QEMU to the match, or to its exit. */
  durationMs: number;
  /** The full command line. */
  args: readonly string[];
}

export interface VmRun extends VmResult {
  /** QEMU was still running when this resolved (keepRunning). */
  running: boolean;
  /** The console now (it keeps growing while the VM runs). */
  consoleNow(): string;
  /** Waits for more console output; rejects with the console's tail after timeoutMs. */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Types into the serial console. */
  send(text: string): void;
  /** Stops QEMU (SIGTERM, then SIGKILL) and removes its temp dir; harmless when it has exited. */
  stop(): Promise<VmResult>;
}

/** Why a boot failed; the message ends with the console's last lines. */
export class VmBootError extends Error {
  constructor(
    message: string,
    readonly reason: 'timeout' | 'failOn' | 'qemu-exit' | 'spawn',
    readonly result: VmResult,
  ) {
    super(message);
    this.name = 'VmBootError';
  }
}

export const DEFAULT_FAIL_ON: readonly RegExp[] = [/Kernel panic - not syncing/];

/** The last `lines` lines of a console text. */
export function consoleTail(text: string, lines = 200): string {
  const all = text.replace(/\n$/, '').split('\n');
  const tail = all.slice(-lines);
  return `${all.length > lines ? `[… ${all.length - lines} earlier lines]\n` : ''}${tail.join('\n')}`;
}

function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255))
    throw new Error(`not an IPv4 address: ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function numberToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

/** The addresses QEMU's user network gives out in `net` (a CIDR): QEMU's defaults. */
export function userNetAddresses(net = '10.0.2.0/24'): {
  network: string;
  prefix: number;
  guest: string;
  gateway: string;
  dns: string;
  contains(ip: string): boolean;
} {
  const [address, prefixText] = net.split('/');
  const prefix = Number(prefixText ?? '24');
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 30)
    throw new Error(`not an IPv4 network: ${net}`);
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  const base = (ipToNumber(address!) & mask) >>> 0;
  return {
    network: numberToIp(base),
    prefix,
    guest: numberToIp(base + 15),
    gateway: numberToIp(base + 2),
    dns: numberToIp(base + 3),
    contains: (ip) => (ipToNumber(ip) & mask) >>> 0 === base,
  };
}

/** A value inside a QEMU `key=value,…` option: a comma is written twice. */
function optionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** Files bootVm makes before it builds the command line. */
export interface VmPaths {
  /** The private OVMF variable store (uefi). */
  ovmfVars?: string;
  /** Default findBusybox(). */
  busybox?: string;
}

/** The QEMU command line (without the binary) for `options`; throws on what QEMU would refuse. */
export function qemuArgs(options: BootOptions, paths: VmPaths = {}): string[] {
  if (
    options.kernel === undefined &&
    (options.initrd !== undefined || options.append !== undefined)
  )
    throw new Error('bootVm: initrd and append need a kernel');
  if (options.kernel === undefined && options.iso === undefined && !(options.disks?.length ?? 0))
    throw new Error('bootVm: nothing to boot (kernel, iso or disks)');
  const args = [
    '-accel',
    options.accel ?? 'tcg',
    '-machine',
    options.machine ?? 'q35',
    ...(options.cpu !== undefined ? ['-cpu', options.cpu] : []),
    '-m',
    String(options.memoryMiB ?? 1024),
    '-smp',
    String(options.cpus ?? 1),
    '-nodefaults',
    '-no-reboot',
    '-display',
    'none',
    '-monitor',
    'none',
    '-chardev',
    'stdio,id=console,signal=off',
    '-serial',
    'chardev:console',
  ];
  if (options.uefi) {
    const ovmf = findOvmf();
    if (ovmf === undefined) throw new Error('bootVm: uefi needs OVMF (Debian package ovmf)');
    if (paths.ovmfVars === undefined) throw new Error('bootVm: uefi needs a copy of OVMF_VARS');
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${optionValue(ovmf.code)}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${optionValue(paths.ovmfVars)}`,
    );
  }
  if (options.kernel !== undefined) args.push('-kernel', options.kernel);
  if (options.initrd !== undefined) args.push('-initrd', options.initrd);
  if (options.append !== undefined) args.push('-append', options.append);
  if (options.iso !== undefined)
    // -cdrom with -boot d in effect, said so that OVMF honours it too (boot index, not -boot).
    args.push(
      '-drive',
      `if=none,id=cd0,media=cdrom,readonly=on,file=${optionValue(options.iso)}`,
      '-device',
      'ide-cd,drive=cd0,bootindex=0',
    );
  // -drive lost its serial= (QEMU 7 says "Block format 'raw' does not support the option
  // 'serial'"): the drive is a backend, the virtio-blk-pci device carries the serial.
  for (const [index, disk] of (options.disks ?? []).entries()) {
    const drive = [
      `if=none,id=disk${index}`,
      `file=${optionValue(disk.file)}`,
      `format=${disk.format ?? 'raw'}`,
      ...(disk.readonly ? ['readonly=on'] : []),
      ...(disk.snapshot ? ['snapshot=on'] : []),
    ];
    const device = [
      'virtio-blk-pci',
      `drive=disk${index}`,
      ...(disk.serial !== undefined ? [`serial=${optionValue(disk.serial)}`] : []),
    ];
    args.push('-drive', drive.join(','), '-device', device.join(','));
  }
  if (!options.noNetwork) {
    const net = options.net ?? '10.0.2.0/24';
    const addresses = userNetAddresses(net);
    const busybox = paths.busybox ?? findBusybox();
    const forwards = (options.guestfwd ?? []).map((forward) => {
      if (
        !addresses.contains(forward.guestIp) ||
        forward.guestIp === addresses.gateway ||
        forward.guestIp === addresses.dns
      )
        throw new Error(
          `bootVm: QEMU refuses a guestfwd to ${forward.guestIp}: it must be inside net ${net} and not its gateway (${addresses.gateway}) or DNS (${addresses.dns}); for 169.254.169.254 use net: '169.254.0.0/16'`,
        );
      if (busybox === undefined) throw new Error('bootVm: the guestfwd relay needs busybox');
      return `guestfwd=tcp:${forward.guestIp}:${forward.guestPort}-cmd:${optionValue(`${busybox} nc 127.0.0.1 ${forward.hostPort}`)}`;
    });
    args.push(
      '-netdev',
      ['user', 'id=n0', 'restrict=on', `net=${net}`, ...forwards].join(','),
      '-device',
      'virtio-net-pci,netdev=n0',
    );
  }
  args.push(...(options.extraArgs ?? []));
  return args;
}

function matches(text: string, pattern: string | RegExp): boolean {
  return typeof pattern === 'string' ? text.includes(pattern) : text.search(pattern) >= 0;
}

/**
 * Boots a VM and resolves when the console shows `until` (QEMU is then stopped, unless
 * keepRunning), or when QEMU exits with status 0 (a guest `poweroff -f`; `-no-reboot` makes a
 * reboot an exit too). Rejects with a VmBootError whose message ends with the console's last
 * 200 lines on a timeout, on a `failOn` match (after a second more of output, for the trace) and
 * when QEMU itself fails (non-zero status, its stderr in the message).
 */
export async function bootVm(options: BootOptions): Promise<VmRun> {
  const temp = await mkdtemp(path.join(os.tmpdir(), 'ucvm-vm-'));
  let args: string[];
  try {
    const paths: VmPaths = {};
    if (options.uefi) {
      const ovmf = findOvmf();
      if (ovmf !== undefined) {
        paths.ovmfVars = path.join(temp, path.basename(ovmf.vars));
        await copyFile(ovmf.vars, paths.ovmfVars);
      }
    }
    args = qemuArgs(options, paths);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  const binary = options.binary ?? QEMU_BINARY;
  const failOn = options.failOn ?? DEFAULT_FAIL_ON;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const log: WriteStream | undefined =
    options.logFile !== undefined ? createWriteStream(options.logFile) : undefined;

  const started = Date.now();
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  killOnExit(child);
  let consoleText = '';
  let stderr = '';
  let matched = false;
  let matchedAt: number | undefined;
  let exitAt: number | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const waiters = new Set<() => void>();
  // A character split between two reads is decoded once whole.
  const decoder = new StringDecoder('utf8');

  const result = (): VmResult => ({
    console: consoleText,
    stderr,
    matched,
    exitCode: exit?.code ?? null,
    signal: exit?.signal ?? null,
    durationMs: (matchedAt ?? exitAt ?? Date.now()) - started,
    args: [binary, ...args],
  });
  const exited = new Promise<void>((resolve) => {
    child.once('close', (code, signal) => {
      exit = { code, signal };
      exitAt = Date.now();
      log?.end();
      void rm(temp, { recursive: true, force: true }).finally(resolve);
      for (const wake of waiters) wake();
    });
  });
  child.stdin.on('error', () => {
    // QEMU gone: typing into its console goes nowhere.
  });

  const stop = async (): Promise<VmResult> => {
    if (exit === undefined && spawnError === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    return result();
  };

  const waitFor = (pattern: string | RegExp, waitMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (matches(consoleText, pattern)) {
          cleanup();
          resolve(consoleText);
          return true;
        }
        if (exit !== undefined) {
          cleanup();
          reject(
            new Error(
              `QEMU exited (${exit.code ?? exit.signal}) before the console showed ${String(pattern)}:\n${consoleTail(consoleText)}`,
            ),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `the console did not show ${String(pattern)} within ${waitMs} ms:\n${consoleTail(consoleText)}`,
          ),
        );
      }, waitMs);
      const wake = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      if (!check()) waiters.add(wake);
    });

  const run = (isRunning: boolean): VmRun => ({
    ...result(),
    running: isRunning,
    consoleNow: () => consoleText,
    waitFor,
    send: (text) => {
      if (exit === undefined) child.stdin.write(text);
    },
    stop,
  });

  return new Promise<VmRun>((resolve, reject) => {
    let settled = false;
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
    };
    const rejectWith = (reason: VmBootError['reason'], what: string): void => {
      const done = (): void => {
        const final = result();
        const qemuSaid = final.stderr.trim() === '' ? '' : `\nQEMU: ${final.stderr.trim()}`;
        reject(
          new VmBootError(
            `${what} (${final.durationMs} ms)${qemuSaid}\n--- console, last 200 lines ---\n${consoleTail(final.console)}`,
            reason,
            final,
          ),
        );
      };
      void stop().then(done, done);
    };
    const timer = setTimeout(() => {
      finish();
      rejectWith(
        'timeout',
        `the VM timed out after ${timeoutMs} ms${options.until !== undefined ? ` without the console showing ${String(options.until)}` : ''}`,
      );
    }, timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => {
      log?.write(chunk);
      const text = decoder.write(chunk).replaceAll('\r', '');
      consoleText += text;
      options.onConsole?.(text);
      for (const wake of waiters) wake();
      if (settled) return;
      const failure = failOn.find((pattern) => matches(consoleText, pattern));
      if (failure !== undefined) {
        finish();
        // A second more of the console first: a panic's trace follows its first line.
        setTimeout(() => rejectWith('failOn', `the console showed ${String(failure)}`), 1_000);
        return;
      }
      if (options.until !== undefined && matches(consoleText, options.until)) {
        finish();
        matched = true;
        matchedAt = Date.now();
        if (options.keepRunning) resolve(run(true));
        else void stop().then(() => resolve(run(false)));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => {
      spawnError = error;
      if (settled) return;
      finish();
      void rm(temp, { recursive: true, force: true });
      rejectWith('spawn', `QEMU could not be started: ${error.message}`);
    });
    void exited.then(() => {
      if (settled) return;
      finish();
      if (exit?.code === 0) resolve(run(false));
      else rejectWith('qemu-exit', `QEMU exited with ${exit?.code ?? exit?.signal}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// A Debian kernel for test boots, downloaded with apt (this machine's sources) into a cache
// outside the repository.

export interface DebianKernel {
  /** e.g. linux-image-6.1.0-57-cloud-amd64 */
  package: string;
  /** The kernel release, e.g. 6.1.0-57-cloud-amd64 */
  version: string;
  vmlinuz: string;
  /** `/lib/modules/<version>` of the extracted package (no modules.dep: depmod runs at install). */
  modulesDir: string;
  /** `/boot/config-<version>` */
  config: string;
}

/** Where test downloads are kept: $UCVM_TEST_CACHE, else $XDG_CACHE_HOME/ucvm-test, else ~/.cache/ucvm-test. */
export function testCacheDir(): string {
  return (
    process.env.UCVM_TEST_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'ucvm-test')
  );
}

async function extractedKernel(dir: string, packageName: string): Promise<DebianKernel> {
  const modulesRoot = path.join(dir, 'lib', 'modules');
  const versions = await readdir(modulesRoot);
  if (versions.length !== 1)
    throw new Error(
      `${packageName}: expected one kernel in lib/modules, found ${versions.join(' ')}`,
    );
  const version = versions[0]!;
  const vmlinuz = path.join(dir, 'boot', `vmlinuz-${version}`);
  await stat(vmlinuz);
  return {
    package: packageName,
    version,
    vmlinuz,
    modulesDir: path.join(modulesRoot, version),
    config: path.join(dir, 'boot', `config-${version}`),
  };
}

function commandError(error: unknown): string {
  const failed = error as { message?: string; stderr?: string };
  return (failed.stderr?.trim() || failed.message || String(error)).split('\n').slice(-5).join(' ');
}

/**
 * The current Debian kernel of `flavour` (default cloud-amd64: the meta package
 * linux-image-<flavour> names it), downloaded with `apt-get download` and extracted with
 * `dpkg-deb -x` into testCacheDir() once, reused after. { skipReason } when apt cannot say or
 * download it (no package lists, no network).
 */
export async function fetchDebianKernel(
  options: { flavour?: string; cacheDir?: string } = {},
): Promise<
  { kernel: DebianKernel; skipReason?: undefined } | { kernel?: undefined; skipReason: string }
> {
  const flavour = options.flavour ?? 'cloud-amd64';
  const cache = path.join(options.cacheDir ?? testCacheDir(), 'kernel');
  let packageName: string;
  try {
    const { stdout } = await execFileAsync('apt-cache', ['depends', `linux-image-${flavour}`]);
    const found = /Depends: (linux-image-\S+)/.exec(stdout);
    if (found === null) throw new Error(`no linux-image dependency in:\n${stdout}`);
    packageName = found[1]!;
  } catch (error) {
    return {
      skipReason: `apt-cache cannot name the Debian kernel linux-image-${flavour} (${commandError(error)}); skipped, not passed`,
    };
  }
  const target = path.join(cache, packageName);
  if (existsSync(path.join(target, 'boot')))
    try {
      return { kernel: await extractedKernel(target, packageName) };
    } catch {
      await rm(target, { recursive: true, force: true });
    }
  await mkdir(cache, { recursive: true });
  // Concurrent test processes each download into their own directory; the first rename wins.
  const work = await mkdtemp(path.join(cache, `.${packageName}-`));
  try {
    try {
      await execFileAsync(
        'apt-get',
        ['download', '-q', '-o', 'APT::Sandbox::User=root', packageName],
        { cwd: work, maxBuffer: 16 << 20, timeout: 600_000 },
      );
    } catch (error) {
      return {
        skipReason: `apt-get download ${packageName} failed (${commandError(error)}); skipped, not passed`,
      };
    }
    const deb = (await readdir(work)).find((name) => name.endsWith('.deb'));
    if (deb === undefined) return { skipReason: `apt-get download ${packageName} wrote no .deb` };
    const tree = path.join(work, 'tree');
    await execFileAsync('dpkg-deb', ['-x', path.join(work, deb), tree], { maxBuffer: 16 << 20 });
    try {
      await rename(tree, target);
    } catch (error) {
      if (!existsSync(path.join(target, 'boot'))) throw error;
    }
    return { kernel: await extractedKernel(target, packageName) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** fetchDebianKernel without the reason: undefined when apt cannot download it. */
export async function debianKernel(
  options: { flavour?: string; cacheDir?: string } = {},
): Promise<DebianKernel | undefined> {
  return (await fetchDebianKernel(options)).kernel;
}

/** A kernel's build configuration: CONFIG_X → 'y' | 'm' | value (unset options are absent). */
export async function kernelConfig(kernel: DebianKernel): Promise<Map<string, string>> {
  const config = new Map<string, string>();
  for (const line of (await readFile(kernel.config, 'utf8')).split('\n')) {
    const found = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (found !== null) config.set(found[1]!, found[2]!.replace(/^"(.*)"$/, '$1'));
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Kernel modules: their dependencies from the modules themselves (a package's tree has no
// modules.dep, and this machine need not have kmod), in load order.

const MODULE_SUFFIX = /\.ko(\.xz|\.zst|\.gz)?$/;

/** A module's name as the kernel knows it: dashes are underscores. */
function moduleName(fileOrName: string): string {
  return path.basename(fileOrName).replace(MODULE_SUFFIX, '').replaceAll('-', '_');
}

/** A module file's contents, decompressed (.ko.xz, .ko.zst, .ko.gz), as busybox insmod needs. */
export async function moduleBytes(file: string): Promise<Buffer> {
  if (file.endsWith('.ko.xz')) return execFileSync('xz', ['-dc', file], { maxBuffer: 256 << 20 });
  if (file.endsWith('.ko.zst'))
    return execFileSync('zstd', ['-dcq', file], { maxBuffer: 256 << 20 });
  if (file.endsWith('.ko.gz')) return gunzipSync(await readFile(file));
  return readFile(file);
}

/** The key=value strings of an ELF64 little-endian module's .modinfo section. */
export function modinfo(elf: Buffer): Map<string, string[]> {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1)
    throw new Error('not an ELF64 little-endian file');
  const sectionsAt = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const namesIndex = elf.readUInt16LE(0x3e);
  const section = (index: number): { name: number; offset: number; size: number } => {
    const at = sectionsAt + index * entrySize;
    return {
      name: elf.readUInt32LE(at),
      offset: Number(elf.readBigUInt64LE(at + 24)),
      size: Number(elf.readBigUInt64LE(at + 32)),
    };
  };
  const names = section(namesIndex);
  const info = new Map<string, string[]>();
  for (let index = 0; index < count; index++) {
    const { name, offset, size } = section(index);
    const end = elf.indexOf(0, names.offset + name);
    if (elf.toString('latin1', names.offset + name, end) !== '.modinfo') continue;
    for (const entry of elf.toString('utf8', offset, offset + size).split('\0')) {
      const equals = entry.indexOf('=');
      if (equals <= 0) continue;
      const key = entry.slice(0, equals);
      info.set(key, [...(info.get(key) ?? []), entry.slice(equals + 1)]);
    }
  }
  return info;
}

async function moduleFiles(dir: string, into: Map<string, string>): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await moduleFiles(file, into);
    else if (MODULE_SUFFIX.test(entry.name) && !into.has(moduleName(entry.name)))
      into.set(moduleName(entry.name), file);
  }
}

export interface KernelModule {
  name: string;
  file: string;
}

/**
 * The modules `names` need, dependencies first: the order to insmod them in. Modules built
 * into the kernel (modules.builtin) are left out; an unknown name throws.
 */
export async function moduleClosure(
  modulesDir: string,
  names: readonly string[],
): Promise<KernelModule[]> {
  const files = new Map<string, string>();
  await moduleFiles(modulesDir, files);
  const builtin = new Set(
    (await readFile(path.join(modulesDir, 'modules.builtin'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '')
      .map(moduleName),
  );
  const order: KernelModule[] = [];
  const seen = new Set<string>();
  const visit = async (wanted: string, chain: readonly string[]): Promise<void> => {
    const name = moduleName(wanted);
    if (seen.has(name) || builtin.has(name)) return;
    if (chain.includes(name))
      throw new Error(`module dependency cycle: ${[...chain, name].join(' → ')}`);
    const file = files.get(name);
    if (file === undefined)
      throw new Error(
        `no module ${name} in ${modulesDir}${chain.length ? ` (needed by ${chain.at(-1)})` : ''}`,
      );
    const depends = (modinfo(await moduleBytes(file)).get('depends') ?? [])
      .flatMap((value) => value.split(','))
      .filter((dep) => dep !== '');
    for (const dep of depends) await visit(dep, [...chain, name]);
    seen.add(name);
    order.push({ name, file });
  };
  for (const name of names) await visit(name, []);
  return order;
}

// ---------------------------------------------------------------------------------------------
// A minimal initramfs for harness tests: the host's static busybox, an /init, modules.

export interface BusyboxInitramfsOptions {
  /** The newc cpio archive to write (uncompressed: the kernel takes it as is). */
  output: string;
  /** The /init script (`#!/bin/busybox sh` …); mode 0755. */
  init: string;
  /**
   * Put at /lib/modules/<name>.ko, decompressed; /lib/modules/order lists the names in load
   * order, so that the init can `for m in $(cat /lib/modules/order); do insmod …; done`.
   */
  modules?: readonly KernelModule[];
  /** More files: archive path (no leading /) → content; mode 0644, or 0755 if it starts with #!. */
  files?: Readonly<Record<string, string | Buffer>>;
  /** Default findBusybox(). */
  busybox?: string;
}

/**
 * Writes a newc cpio archive with the host's `cpio -o -H newc` (owner root): /bin/busybox, /init,
 * empty /dev /proc /sys /tmp, the modules and files. /dev/console comes from the kernel's own
 * built-in initramfs, which an external one is unpacked over.
 */
export async function buildBusyboxInitramfs(options: BusyboxInitramfsOptions): Promise<string> {
  const busybox = options.busybox ?? findBusybox();
  if (busybox === undefined)
    throw new Error('buildBusyboxInitramfs needs busybox (busybox-static)');
  const stage = await mkdtemp(path.join(os.tmpdir(), 'ucvm-initramfs-'));
  try {
    for (const dir of [
      'bin',
      'sbin',
      'usr/bin',
      'usr/sbin',
      'dev',
      'proc',
      'sys',
      'tmp',
      'lib/modules',
    ])
      await mkdir(path.join(stage, dir), { recursive: true });
    await copyFile(busybox, path.join(stage, 'bin/busybox'));
    await chmod(path.join(stage, 'bin/busybox'), 0o755);
    await writeFile(path.join(stage, 'init'), options.init, { mode: 0o755 });
    for (const module of options.modules ?? [])
      await writeFile(
        path.join(stage, 'lib/modules', `${module.name}.ko`),
        await moduleBytes(module.file),
      );
    await writeFile(
      path.join(stage, 'lib/modules/order'),
      (options.modules ?? []).map((module) => `${module.name}\n`).join(''),
    );
    for (const [name, content] of Object.entries(options.files ?? {})) {
      const file = path.join(stage, name);
      await mkdir(path.dirname(file), { recursive: true });
      const executable = Buffer.from(content).subarray(0, 2).toString() === '#!';
      await writeFile(file, content, { mode: executable ? 0o755 : 0o644 });
    }
    const list: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      )) {
        const relative = path.relative(stage, path.join(dir, entry.name));
        list.push(relative);
        if (entry.isDirectory()) await walk(path.join(dir, entry.name));
      }
    };
    await walk(stage);
    const out = openSync(options.output, 'w');
    try {
      await new Promise<void>((resolve, reject) => {
        const cpio = spawn('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--quiet'], {
          cwd: stage,
          stdio: ['pipe', out, 'pipe'],
        });
        let errors = '';
        cpio.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
        cpio.once('error', reject);
        cpio.once('close', (code) =>
          code === 0 ? resolve() : reject(new Error(`cpio failed (${code}): ${errors}`)),
        );
        cpio.stdin!.end(`${list.join('\n')}\n`);
      });
    } finally {
      closeSync(out);
    }
    return options.output;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
