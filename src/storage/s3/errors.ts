import { UcvmError } from '../../errors.js';

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** The HTTP status of a failed S3 request, if the store answered at all. */
export function statusOf(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode;
}

export function isNotFound(error: unknown): boolean {
  const name = (error as SdkError | undefined)?.name;
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/** 412: a conditional write (If-None-Match, If-Match) found the key not as expected. */
export function isPreconditionFailed(error: unknown): boolean {
  const status = statusOf(error);
  // 409 ConditionalRequestConflict: another conditional write to the key was in flight.
  return status === 412 || status === 409;
}

const STATUS_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  500: 'InternalError',
  501: 'NotImplemented',
  503: 'ServiceUnavailable',
};

const remedies: Record<string, string> = {
  NoSuchBucket: 'Create the bucket, or correct `bucket` (the s3://<bucket>/… location).',
  AccessDenied:
    'The credentials may not do this: check the policy of the bucket and of the user (reading, writing, listing and deleting under the prefix).',
  InvalidAccessKeyId:
    'The store does not know these credentials: check the access key (s3.credentials in pipeline.yaml, or the AWS_* environment).',
  SignatureDoesNotMatch:
    'The secret key does not match the access key: check the credentials (s3.credentials in pipeline.yaml, or the AWS_* environment).',
  Forbidden:
    'The store refused the request: check the credentials (s3.credentials in pipeline.yaml, or the AWS_* environment) and the policy of the bucket.',
  ExpiredToken: 'The session token has expired: renew the credentials.',
  SlowDown: 'The store is throttling: run again later, or lower s3.concurrency.',
};

/**
 * A failed S3 request as a STORAGE_IO error naming the operation, bucket and key, and what to
 * do. Never includes credentials: only the store's error code and message.
 */
export function s3Error(error: unknown, operation: string, bucket: string, key: string): unknown {
  if (error instanceof UcvmError) return error;
  const sdk = error as SdkError;
  const status = statusOf(error);
  const where = `s3://${bucket}/${key}`;
  if (status === undefined) {
    const code = sdk.code ?? sdk.name ?? 'error';
    return new UcvmError('STORAGE_IO', `cannot ${operation} ${where}: ${code}`, {
      details:
        `${sdk.message ?? ''}\nThe store did not answer: check the endpoint (s3.endpoint) and the network.`.trim(),
      cause: error,
    });
  }
  // A HEAD request's error has no body: the SDK knows only the status.
  const name =
    sdk.name === undefined || /^(Unknown(Error)?|\d+)$/.test(sdk.name)
      ? (STATUS_NAMES[status] ?? 'Error')
      : sdk.name;
  const attempts = sdk.$metadata?.attempts ?? 1;
  return new UcvmError('STORAGE_IO', `cannot ${operation} ${where}: ${status} ${name}`, {
    details: [
      sdk.message !== undefined &&
      !/^(Unknown(Error)?|\d+)?$/.test(sdk.message) &&
      sdk.message !== name
        ? sdk.message
        : undefined,
      attempts > 1 ? `Failed after ${attempts} attempts.` : undefined,
      remedies[name] ??
        (status >= 500 ? 'The store failed: run again; the next run finishes the job.' : undefined),
    ]
      .filter(Boolean)
      .join('\n'),
    cause: error,
  });
}
