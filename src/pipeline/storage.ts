import path from 'node:path';
import { UcvmError } from '../errors.js';
import { directorySource, type RepoSource } from '../reader/source.js';
import { isS3Location, openS3Source, type S3Connection } from '../storage/s3/index.js';
import type { RepositorySettings } from './schema.js';

/** Where the embedded backend writes a repository: a directory, or a bucket and how to reach it. */
export interface RepositoryStorage {
  /** A resolved directory, or `s3://<bucket>/<prefix>`. */
  location: string;
  s3?: S3Connection;
}

export function repositoryStorage(settings: RepositorySettings, root: string): RepositoryStorage {
  if (settings.storage === undefined)
    throw new UcvmError('PIPELINE_INVALID', `${settings.name} has no storage`, {
      where: { file: 'pipeline/pipeline.yaml', path: 'repositories' },
    });
  if (!isS3Location(settings.storage)) return { location: path.resolve(root, settings.storage) };
  const s3 = settings.s3;
  const credentials = s3?.credentials;
  return {
    location: settings.storage,
    s3: {
      ...(s3?.endpoint !== undefined && { endpoint: s3.endpoint }),
      ...(s3?.region !== undefined && { region: s3.region }),
      pathStyle: s3?.pathStyle ?? false,
      ...(s3?.concurrency !== undefined && { concurrency: s3.concurrency }),
      ...(s3?.maxAttempts !== undefined && { maxAttempts: s3.maxAttempts }),
      ...(credentials !== undefined && {
        credentials: {
          accessKeyId: fromEnvironment(settings, 'accessKeyId', credentials.accessKeyId),
          secretAccessKey: fromEnvironment(settings, 'secretAccessKey', credentials.secretAccessKey),
          ...(credentials.sessionToken !== undefined && {
            sessionToken: fromEnvironment(settings, 'sessionToken', credentials.sessionToken),
          }),
        },
      }),
    },
  };
}

/** Reads what the storage holds (the publisher's view, not the public URL's). */
export function storageSource(storage: RepositoryStorage): RepoSource {
  return storage.s3 === undefined
    ? directorySource(storage.location)
    : openS3Source(storage.location, storage.s3);
}

/** The value of an `env:VAR` reference; never echoed, it is a secret. */
function fromEnvironment(settings: RepositorySettings, field: string, reference: string): string {
  const variable = reference.slice('env:'.length);
  const value = process.env[variable];
  if (value === undefined || value === '')
    throw new UcvmError(
      'KEY_MISSING',
      `${settings.name}: s3.credentials.${field} comes from $${variable}, which is not set`,
      {
        details: `Set $${variable} (in CI: from a secret), or drop s3.credentials to use the standard AWS chain.`,
        where: { file: 'pipeline/pipeline.yaml', path: `repositories.${settings.name}.s3.credentials.${field}` },
      },
    );
  return value;
}
