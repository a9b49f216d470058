import { z } from 'zod';
import { DebianPackageName, DebianVersion } from '../../manifest/fields.js';
import { Base } from '../../manifest/schema.js';

/** The boot image's own version, μCernVM style: year, month, release (`2026.12-1`). */
export const ImageVersion = z
  .string()
  .regex(/^20[0-9]{2}\.(0[1-9]|1[0-2])-[1-9][0-9]{0,3}$/, {
    error: 'expected an image version YYYY.MM-R such as 2026.12-1',
  })
  .meta({ examples: ['2026.12-1'] });

export const Sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, { error: 'expected a SHA-256 as 64 lower-case hex digits' });

/** One package of the closed set, by exact version and by the hash of its .deb. */
export const ImagePackagePin = z.strictObject({ version: DebianVersion, sha256: Sha256 });
export type ImagePackagePin = z.infer<typeof ImagePackagePin>;

/** Where an archive comes from: a path (relative to the project root), a URL, or env:VAR. */
export const ArchiveLocation = z
  .string()
  .regex(/^(?:env:[A-Za-z_][A-Za-z0-9_]*|https?:\/\/\S+|[^\s:][^\r\n]*)$/, {
    error: 'expected a path, an http(s) URL, or env:VAR',
  });

export const ClientArchive = z
  .strictObject({
    archive: ArchiveLocation.meta({
      description:
        'The CernVM-FS client: a .deb or a .tar(.gz|.xz|.zst) of its files (usr/bin/cvmfs2 and its libraries).',
    }),
    sha256: Sha256.meta({ description: 'SHA-256 of the archive; a different file is refused.' }),
    version: z
      .string()
      .regex(/^[0-9][A-Za-z0-9.+~-]*$/, { error: 'expected a version such as 2.11.5' }),
  })
  .meta({
    description: 'The CernVM-FS client the image mounts the OS with (not a Debian package).',
  });
export type ClientArchive = z.infer<typeof ClientArchive>;

const ModuleName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, {
  error: 'expected a kernel module name such as virtio_blk',
});

/**
 * pipeline/image.yaml: what every boot image is built from. The packages come from Debian
 * like the OS's, pinned by version and .deb hash in `packages` (written by `ucvm image lock`).
 */
export const ImageInputs = z
  .strictObject({
    version: ImageVersion.meta({
      description: 'Version of the boot image, independent of the OS versions it boots.',
    }),
    base: Base,
    kernel: DebianPackageName.meta({
      description:
        'The kernel package (Debian cloud flavour): followed to the linux-image-<version> package that holds vmlinuz and the modules.',
      examples: ['linux-image-cloud-amd64'],
    }),
    programs: z.array(DebianPackageName).min(1).meta({
      description:
        'Packages whose programs the init runs; their dependencies are pinned too, for the shared libraries.',
    }),
    files: z.array(DebianPackageName).default([]).meta({
      description:
        'Packages used for their files only (CA certificates, boot loader images): no dependencies.',
    }),
    modules: z.array(ModuleName).default([]).meta({
      description: 'Kernel modules to add to those the init needs (their dependencies come along).',
    }),
    client: ClientArchive.optional(),
    packages: z.record(DebianPackageName, ImagePackagePin).default({}).meta({
      description:
        'The closed set: every package the image is built from. Written by ucvm image lock.',
    }),
  })
  .meta({ title: 'ucvm boot image inputs', description: 'pipeline/image.yaml' });
export type ImageInputs = z.infer<typeof ImageInputs>;
