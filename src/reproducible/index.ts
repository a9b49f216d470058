export { clampMtimes } from './mtimes.js';
export { mountsUnder, removeBuildDir } from './safe-remove.js';
export {
  debBuildTime,
  parseSourceDateEpoch,
  sourceDateEpochOfPackages,
} from './source-date-epoch.js';
export { compareNames, sortedBy } from './ordering.js';
export {
  emptyDirInTree,
  lstatInTree,
  readDirInTree,
  readFileInTree,
  removeInTree,
  resolveDirInTree,
  resolveInTree,
  walkTree,
  writeFileInTree,
} from './tree-paths.js';
export type { WriteInTreeOptions } from './tree-paths.js';
