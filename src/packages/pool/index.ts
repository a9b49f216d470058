export { createFallbackSource } from './fallback-source.js';
export { createPool, poolRecord, verifyFile } from './pool.js';
export type { PackagePool, PoolItem, PoolOptions } from './pool.js';
export { PoolEntry } from './store.js';
