export { buildTemplate } from './template.js';
export type { BuildTemplateOptions, TemplateBuild } from './template.js';
export type { InstallMode } from './install.js';
export { mmdebstrapArgs } from './install.js';
export { installedSetProblems, readInstalledPackages } from './installed-set.js';
export type { InstalledPackage } from './installed-set.js';
export {
  buildMetaPackage,
  debianVersionOfRelease,
  installedMarkerContent,
  installedMarkerPath,
  metaPackageControl,
} from './meta-package.js';
export type { MetaPackage, MetaPackageOptions } from './meta-package.js';
export {
  debBuildTime,
  parseSourceDateEpoch,
  sourceDateEpochOfPackages,
} from '../reproducible/source-date-epoch.js';
