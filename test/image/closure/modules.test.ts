import { describe, expect, it } from 'vitest';
import { isUcvmError } from '../../../src/errors.js';
import {
  moduleClosure,
  moduleName,
  parseModulesBuiltin,
  parseModulesDep,
} from '../../../src/image/closure/modules.js';

const dep = `kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz kernel/drivers/virtio/virtio.ko.xz
kernel/drivers/virtio/virtio_ring.ko.xz: kernel/drivers/virtio/virtio.ko.xz
kernel/drivers/virtio/virtio.ko.xz:
kernel/drivers/net/virtio_net.ko.zst: kernel/drivers/net/net_failover.ko.zst kernel/drivers/virtio/virtio_ring.ko.xz kernel/drivers/virtio/virtio.ko.xz
kernel/drivers/net/net_failover.ko.zst: kernel/net/core/failover.ko.zst
kernel/net/core/failover.ko.zst:
kernel/fs/overlayfs/overlay.ko:
kernel/fs/fuse/fuse.ko.gz:
`;

describe('kernel module closure', () => {
  it('names modules as modprobe does', () => {
    expect(moduleName('kernel/drivers/block/virtio_blk.ko.xz')).toBe('virtio_blk');
    expect(moduleName('kernel/fs/nls/nls-cp437.ko')).toBe('nls_cp437');
  });

  it('ships the asked-for modules with their dependencies, dependencies first', () => {
    const closure = moduleClosure(
      parseModulesDep(dep),
      parseModulesBuiltin('kernel/fs/ext4/ext4.ko\nkernel/fs/squashfs/squashfs.ko\n'),
      ['virtio_net', 'virtio-blk', 'overlay', 'ext4', 'no_such_thing'],
    );
    expect(closure.files).toEqual([
      'kernel/net/core/failover.ko.zst',
      'kernel/drivers/net/net_failover.ko.zst',
      'kernel/drivers/virtio/virtio.ko.xz',
      'kernel/drivers/virtio/virtio_ring.ko.xz',
      'kernel/drivers/net/virtio_net.ko.zst',
      'kernel/drivers/block/virtio_blk.ko.xz',
      'kernel/fs/overlayfs/overlay.ko',
    ]);
    expect(closure.builtin).toEqual(['ext4']);
    expect(closure.missing).toEqual(['no_such_thing']);
  });

  it('refuses a broken modules.dep', () => {
    const errors = [
      () => parseModulesDep('no colon here\n'),
      () => moduleClosure(parseModulesDep('a.ko: b.ko\n'), new Set(), ['a']),
      () => moduleClosure(parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n'), new Set(), ['a']),
    ];
    for (const error of errors) {
      let caught: unknown;
      try {
        error();
      } catch (thrown) {
        caught = thrown;
      }
      expect(isUcvmError(caught, 'BUILD_FAILED')).toBe(true);
    }
  });
});
