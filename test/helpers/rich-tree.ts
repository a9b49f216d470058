import { execFileSync } from 'node:child_process';
import { chownSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A tree with one of everything the format can hold. */
export function buildRichTree(root: string): void {
  const write = (relative: string, content: string | Buffer): void => {
    mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
    writeFileSync(path.join(root, relative), content);
  };
  write('etc/motd', 'hello\n');
  write('empty', '');
  write('bin/tool', Buffer.alloc(200_000, 'tool binary '));
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919 + (i >> 11) * 31) & 0xff;
  write('big.bin', big);
  write('links/a', 'linked content\n');
  linkSync(path.join(root, 'links/a'), path.join(root, 'links/b'));
  symlinkSync('../etc/motd', path.join(root, 'links/sym'));
  mkdirSync(path.join(root, 'dev'));
  execFileSync('mknod', [path.join(root, 'dev/zero'), 'c', '1', '5']);
  execFileSync('mkfifo', [path.join(root, 'dev/fifo')]);
  write('sw/.cvmfscatalog', '');
  write('sw/v1/bin/x', 'x\n');
  write('sw/v1/.cvmfscatalog', '');
  write('sw/v1/lib/y', 'y\n');
  write('data/ünïcode.txt', 'unicode\n');
  execFileSync('setfattr', ['-n', 'user.foo', '-v', 'bar', path.join(root, 'etc/motd')]);
  chownSync(path.join(root, 'data/ünïcode.txt'), 1234, 5678);
  utimesSync(path.join(root, 'etc/motd'), 1_600_000_000, 1_600_000_000);
}
