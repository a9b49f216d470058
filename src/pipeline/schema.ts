import { z } from 'zod';
import {
  AUTOMATIC_TAGS,
  FQRN_MAX_LENGTH,
  FQRN_PATTERN,
  fqrnProblem,
  TAG_MAX_LENGTH,
  TAG_PATTERN,
  tagNameProblem,
} from '../cvmfs/fqrn.js';
import { LocalPath } from '../manifest/fields.js';
import { Channel, channels } from '../manifest/schema.js';

/** A fully qualified repository name; the rules and their wording are src/cvmfs/fqrn.ts's. */
export const RepositoryName = z
  .string()
  .max(FQRN_MAX_LENGTH, { error: (issue) => fqrnProblem(typeof issue.input === "string" ? issue.input : "") })
  .regex(FQRN_PATTERN, { error: (issue) => fqrnProblem(typeof issue.input === "string" ? issue.input : "") })
  .meta({ examples: ['cernvm-testing.example.org'] });
export type RepositoryName = z.infer<typeof RepositoryName>;

export const TagName = z
  .string()
  .max(TAG_MAX_LENGTH, { error: (issue) => tagNameProblem(typeof issue.input === "string" ? issue.input : "") })
  .regex(TAG_PATTERN, { error: (issue) => tagNameProblem(typeof issue.input === "string" ? issue.input : "") })
  .refine((tag) => !AUTOMATIC_TAGS.has(tag), {
    error: (issue) => `${String(issue.input)} is a tag the repository maintains itself`,
  });

/**
 * Where the signing keys are: a directory (`<fqrn>.key`, `.crt`, `.masterkey`, `.pub`) or
 * `env:VAR`, a variable that names such a directory or holds the keys in CI. Never the key
 * material itself; messages never echo the value, in case it is.
 */
export const KeyReference = z
  .string()
  .superRefine((reference, context) => {
    if (/-----BEGIN|[\r\n]/.test(reference)) {
      context.addIssue({ code: 'custom', message: 'this looks like key material: give a directory path or env:VAR' });
    } else if (reference.startsWith('env:') && !/^env:[A-Za-z_][A-Za-z0-9_]*$/.test(reference)) {
      context.addIssue({ code: 'custom', message: 'expected env: followed by a variable name' });
    } else if (reference.trim() === '') {
      context.addIssue({ code: 'custom', message: 'must not be empty' });
    }
  })
  .meta({
    pattern: '^(?:env:[A-Za-z_][A-Za-z0-9_]*|[^\\r\\n]*\\S[^\\r\\n]*)$',
    description: 'A directory holding the keys, or env:VAR. Never key material.',
    examples: ['/etc/cvmfs/keys', 'env:UCVM_KEYS'],
  });

/** A secret's place: only `env:VAR`, so that the pipeline file never holds one. */
export const EnvReference = z
  .string()
  .regex(/^env:[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected env:VAR (a secret never goes into this file)' })
  .meta({ examples: ['env:AWS_ACCESS_KEY_ID'] });

/** How to reach the object store of a repository whose storage is `s3://<bucket>/<prefix>`. */
export const S3Settings = z
  .strictObject({
    endpoint: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .optional()
      .meta({ description: 'S3-compatible endpoint (default: AWS for the region).' }),
    region: z
      .string()
      .regex(/^[a-z0-9-]{1,40}$/, { error: 'expected a region such as eu-west-1' })
      .optional()
      .meta({ description: 'Region of the bucket (default: $AWS_REGION, else us-east-1).' }),
    pathStyle: z
      .boolean()
      .default(false)
      .meta({ description: 'Address the bucket as <endpoint>/<bucket> (most non-AWS stores need this).' }),
    credentials: z
      .strictObject({
        accessKeyId: EnvReference,
        secretAccessKey: EnvReference,
        sessionToken: EnvReference.optional(),
      })
      .optional()
      .meta({
        description:
          'Where the credentials are (env:VAR only); without it, the standard AWS chain (environment, profile, instance role).',
      }),
    concurrency: z.int().min(1).max(256).default(16).meta({ description: 'Requests in flight at once.' }),
    maxAttempts: z
      .int()
      .min(1)
      .max(20)
      .default(5)
      .meta({ description: 'Attempts per request; retries back off on 5xx, throttling and cut connections.' }),
  })
  .meta({ description: 'The object store of an s3:// storage.' });
export type S3Settings = z.infer<typeof S3Settings>;

export const Backend = z.enum(['embedded', 'cvmfs-server']);
export type Backend = z.infer<typeof Backend>;

export const RepositorySettings = z.strictObject({
  name: RepositoryName,
  backend: Backend.meta({ description: 'embedded: ucvm writes the repository itself; cvmfs-server: through cvmfs_server.' }),
  storage: LocalPath.optional().meta({
    description:
      'Where the embedded backend writes the repository: a directory, or a bucket as s3://<bucket>/<prefix> (with s3:).',
    examples: ['srv/cernvm-prod.example.org', 's3://stratum0/cvmfs/cernvm-prod.example.org'],
  }),
  s3: S3Settings.optional(),
  keys: KeyReference,
  url: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .optional()
    .meta({ description: 'Public base URL the repository is served from.' }),
  rollingTag: TagName.default('HEAD').meta({ description: 'The tag clients boot; it moves with every publication.' }),
});
export type RepositorySettings = z.infer<typeof RepositorySettings>;

export const AptSource = z.strictObject({
  uri: z.url({ protocol: /^(?:https?|file)$/, error: 'expected an http://, https:// or file:// URL' }),
  suite: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9./_-]*$/, { error: 'expected a suite such as "bookworm"' }),
  components: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9/_-]*$/, { error: 'expected a component such as "main"' }))
    .min(1)
    .default(['main']),
  keyring: LocalPath.meta({ description: 'OpenPGP keyring that signs the Release file.' }),
});
export type AptSource = z.infer<typeof AptSource>;

export const ImageSettings = z
  .strictObject({
    servers: z
      .array(
        z.string().regex(/^https?:\/\/[A-Za-z0-9.:_@%/-]+$/, {
          error: 'expected an http(s) URL of a server, with @fqrn@ for the repository name',
        }),
      )
      .min(1)
      .optional()
      .meta({
        description:
          "Stratum 1 URLs the VMs read from, @fqrn@ standing for the repository (default: each repository's url).",
        examples: [['http://s1.example.org/cvmfs/@fqrn@']],
      }),
    proxy: z
      .string()
      .regex(/^[A-Za-z0-9.:/,;|_@%-]+$/, { error: 'expected a CernVM-FS proxy list such as http://squid:3128;DIRECT' })
      .optional()
      .meta({ description: 'The site proxy list the VMs use (CernVM-FS syntax; default DIRECT).' }),
    cmdline: z
      .string()
      .regex(/^[^\r\n]*$/, { error: 'must be one line' })
      .optional()
      .meta({ description: 'Extra kernel command line.' }),
    output: LocalPath.optional().meta({ description: 'Directory the images are written to.' }),
    rootSource: z
      .enum(['cvmfs', 'squashfs'])
      .optional()
      .meta({
        description:
          'What the images reconcile builds mount: the CernVM-FS client (default) or the squashfs shelf.',
      }),
  })
  .meta({ description: 'Boot image settings per pipeline; the inputs are in pipeline/image.yaml.' });
export type ImageSettings = z.infer<typeof ImageSettings>;

/** A span of time: a number and a unit, `s`, `m`, `h`, `d` or `w` (e.g. `36h`, `7d`). */
export const Duration = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhdw]$/, { error: 'expected a duration such as 30m, 36h or 7d' })
  .meta({ examples: ['24h', '7d'] });

/** A check a version must have passed in the channel before; `verify` is run by reconcile itself. */
export const CheckName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, { error: 'expected a check name such as verify or boot' })
  .meta({ examples: ['verify', 'boot'] });

export const Gate = z
  .strictObject({
    soak: Duration.optional().meta({
      description:
        'Minimum time the version must have spent in the channel before, from its publication or promotion there.',
    }),
    checks: z.array(CheckName).default([]).meta({
      description:
        'Checks that must have passed for the version in the channel before (recorded in that repository, signed).',
    }),
  })
  .meta({ description: 'What a version must show before it is promoted into this channel.' });
export type Gate = z.infer<typeof Gate>;

export const PipelineConfig = z
  .strictObject({
    repositories: z.array(RepositorySettings).min(1),
    channels: z
      .partialRecord(Channel, RepositoryName)
      .meta({ description: 'The repository of each channel.' }),
    promotion: z
      .array(Channel)
      .min(1)
      .default([...channels])
      .meta({ description: 'The order versions move through the channels.' }),
    sources: z
      .array(AptSource)
      .min(1)
      .optional()
      .meta({ description: "Package sources; without it, the machine's apt sources." }),
    gates: z
      .partialRecord(Channel, Gate)
      .optional()
      .meta({ description: 'Promotion gates, by target channel.' }),
    pool: LocalPath.meta({ description: 'Directory that keeps every .deb used by a published version.' }),
    image: ImageSettings.optional(),
  })
  .meta({ title: 'ucvm pipeline', description: 'pipeline/pipeline.yaml: repositories, channels, sources.' });
export type PipelineConfig = z.infer<typeof PipelineConfig>;
export type PipelineConfigInput = z.input<typeof PipelineConfig>;
