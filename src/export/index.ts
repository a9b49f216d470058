export { compareListings, expectedListing, type ListedEntry, type Mismatch } from './compare.js';
export {
  collectEntries,
  decodeDevice,
  planExport,
  type ExportEntry,
  type ExportPlan,
  type PlacedEntry,
} from './plan.js';
export {
  exportSquashfs,
  listTree,
  type SquashfsCompression,
  type SquashfsExportOptions,
  type SquashfsExportResult,
} from './squashfs.js';
export {
  formatShelfIndex,
  parseShelfIndex,
  readShelfIndex,
  recordOnShelf,
  shelfImage,
  withShelfEntry,
  type ShelfEntry,
} from './shelf.js';
