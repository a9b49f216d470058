export { S3Storage, type S3StorageOptions } from './storage.js';
export {
  fqrnOfS3Location,
  isS3Location,
  parseS3Location,
  type S3Connection,
  type S3Location,
} from './location.js';
export { s3Source } from './source.js';
export { LEASE_NAME } from './lease.js';
