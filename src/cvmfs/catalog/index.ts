export * from './counters.js';
export * from './digest.js';
export * from './entry.js';
export * from './flags.js';
export * from './path-hash.js';
export * from './schema.js';
export * from './sqlite.js';
export * from './xattr.js';
