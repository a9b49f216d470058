import { z } from 'zod';
import {
  DebianPackageName,
  DebianVersion,
  NonEmptyText,
  ReleaseVersion,
  RepoPath,
  TreePath,
} from './fields.js';

/** The release channels, in their default promotion order. */
export const Channel = z.enum(['development', 'testing', 'production']);
export type Channel = z.infer<typeof Channel>;

export const channels: readonly Channel[] = Channel.options;

export const SystemPackage = z
  .strictObject({
    name: DebianPackageName.default('cernvm-system').meta({
      description: 'Name of the meta package; its version tags the snapshot as <name>-<version>.',
    }),
    version: ReleaseVersion.meta({
      description: 'Version of this OS; a new publication needs a greater one.',
    }),
    description: NonEmptyText.optional().meta({
      description: 'One line shown in /.installed_<name>-<version>.',
    }),
    changelog: z
      .union([z.string(), z.array(NonEmptyText)], { error: 'expected text or a list of entries' })
      .optional()
      .meta({ description: 'What changed in this version: text, or a list of entries.' }),
  })
  .meta({ description: 'The meta package that pins the whole OS.' });
export type SystemPackage = z.infer<typeof SystemPackage>;

export const Base = z
  .strictObject({
    distribution: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a distribution name such as "debian"' })
      .meta({ examples: ['debian'] }),
    suite: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]*$/, { error: 'expected a suite (code name) such as "bookworm"' })
      .meta({ examples: ['bookworm'] }),
    architecture: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'expected a Debian architecture such as "amd64"' })
      .meta({ examples: ['amd64', 'arm64'] }),
    snapshot: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, {
        error: 'expected a snapshot id such as "20240601T000000Z"',
      })
      .optional()
      .meta({
        description:
          'Archive snapshot the packages come from (e.g. a snapshot.debian.org timestamp).',
      }),
  })
  .meta({ description: 'The distribution the packages come from.' });
export type Base = z.infer<typeof Base>;

export const PackagePins = z
  .record(DebianPackageName, DebianVersion)
  .refine((pins) => Object.keys(pins).length > 0, { error: 'must pin at least one package' })
  .meta({
    description:
      'Every package of the OS at an exact version: a closed set (no resolver freedom left).',
    minProperties: 1,
  });
export type PackagePins = z.infer<typeof PackagePins>;

export const InstallList = z.array(DebianPackageName).meta({
  description:
    'The packages asked for (the roots); `packages` pins them and everything they need. `ucvm lock` resolves one from the other.',
  examples: [['systemd-sysv', 'openssh-client']],
});
export type InstallList = z.infer<typeof InstallList>;

const isMapping = (payload: { value: unknown }): boolean =>
  typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value);

export const TreeFile = z
  .strictObject({
    path: TreePath.meta({ description: 'Absolute path in the OS tree.', examples: ['/etc/motd'] }),
    content: z
      .string()
      .optional()
      .meta({ description: 'The file content (give content or source).' }),
    source: RepoPath.optional().meta({
      description: 'A file of this git repository to copy (give content or source).',
    }),
    mode: z
      .string()
      .regex(/^[0-7]{3,4}$/, {
        error: (issue) =>
          `expected an octal mode such as "0644", got ${JSON.stringify(issue.input)}`,
      })
      .default('0644')
      .meta({ description: 'Octal permission bits, quoted.', examples: ['0644', '0755'] }),
  })
  .refine((file) => (file.content === undefined) !== (file.source === undefined), {
    error: (issue) =>
      (issue.input as { content?: unknown }).content === undefined
        ? 'give the file content or a source file'
        : 'give either content or source, not both',
    // Checked even when other fields are wrong, so every problem shows in one run.
    when: isMapping,
  })
  .meta({ description: 'An extra file for the OS tree.' });
export type TreeFile = z.infer<typeof TreeFile>;

export const Hotfix = z
  .strictObject({
    reason: NonEmptyText.meta({ description: 'Why this version skips the normal promotion.' }),
    advisories: z
      .array(NonEmptyText)
      .optional()
      .meta({ description: 'Security advisories fixed, e.g. DSA-5555-1 or CVE-2024-1234.' }),
    upgrades: z.array(DebianPackageName).optional().meta({
      description:
        'The packages the hotfix upgraded (ucvm hotfix writes it); plan reminds the channels before production to carry them forward.',
    }),
  })
  .meta({
    description:
      'Marks a security hotfix: a patch-level bump of the published version that changes only package versions.',
  });
export type Hotfix = z.infer<typeof Hotfix>;

export const Rollback = z
  .strictObject({
    to: ReleaseVersion.meta({
      description: 'An already published version, lower than system.version.',
    }),
    reason: NonEmptyText,
  })
  .meta({ description: "Points the channel's rolling tag back at an already published version." });
export type Rollback = z.infer<typeof Rollback>;

export const Manifest = z
  .strictObject({
    channel: Channel.meta({
      description: 'The channel this file declares; must match the file name.',
    }),
    system: SystemPackage,
    base: Base,
    install: InstallList.optional(),
    packages: PackagePins,
    files: z.array(TreeFile).default([]).meta({ description: 'Extra files for the OS tree.' }),
    hotfix: Hotfix.optional(),
    rollback: Rollback.optional(),
  })
  .meta({
    title: 'ucvm channel manifest',
    description: 'The desired OS of one channel: manifests/<channel>.yaml.',
  });
export type Manifest = z.infer<typeof Manifest>;
/** A manifest as written, before defaults are filled in. */
export type ManifestInput = z.input<typeof Manifest>;

/**
 * A manifest before `ucvm lock` has pinned it: `packages` may be missing or empty, and roots in
 * `install` need not be pinned yet. Everything else is checked as strictly as in `Manifest`.
 */
export const ManifestDraft = Manifest.extend({
  packages: z.record(DebianPackageName, DebianVersion).nullable().optional(),
});
export type ManifestDraft = z.infer<typeof ManifestDraft>;
