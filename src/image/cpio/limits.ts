import { UcvmError } from '../../errors.js';
import { maxField } from './header.js';
import { refuseEntry } from './refuse.js';

// Linux dev_t: 12 bits of major, 20 of minor.
const maxMajor = 0xfff;
const maxMinor = 0xf_ffff;

function isInRange(value: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= max;
}

export function checkSourceDateEpoch(value: number): number {
  if (!isInRange(value, maxField)) {
    throw new UcvmError(
      'USAGE',
      `SOURCE_DATE_EPOCH for the initramfs must be whole seconds from 0 to ${maxField}, got ${value}`,
    );
  }
  return value;
}

export function checkPermissions(path: string, mode: number): number {
  if (!isInRange(mode, 0o7777)) {
    throw refuseEntry(path, `mode ${mode} is not permission bits (0 to 0o7777)`);
  }
  return mode;
}

export function checkOwner(path: string, what: 'uid' | 'gid', id: number): number {
  if (!isInRange(id, maxField)) throw refuseEntry(path, `${what} ${id} is not a 32-bit id`);
  return id;
}

export function checkDevice(path: string, major: number, minor: number): void {
  if (!isInRange(major, maxMajor) || !isInRange(minor, maxMinor)) {
    throw refuseEntry(
      path,
      `device ${major}:${minor} is out of range`,
      `Linux device numbers have a major of 0 to ${maxMajor} and a minor of 0 to ${maxMinor}.`,
    );
  }
}

export function checkSize(path: string, size: number): number {
  if (size > maxField) {
    throw refuseEntry(
      path,
      `${size} bytes is over the 4 GiB a newc archive can hold for one file`,
      'newc stores a file size in 8 hex digits (at most 4294967295 bytes); leave the file out of the initramfs and fetch it from the OS instead.',
    );
  }
  return size;
}
