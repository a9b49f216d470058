export { clampMtimes } from './mtimes.js';
export { mountsUnder, removeBuildDir } from './safe-remove.js';
export {
  debBuildTime,
  parseSourceDateEpoch,
  sourceDateEpochOfPackages,
} from './source-date-epoch.js';
export { resolveDirInTree, resolveInTree, walkTree } from './tree-paths.js';
