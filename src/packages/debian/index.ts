export { ControlParagraph, formatControl, getField, parseControl } from './control.js';
export type { ParseControlOptions } from './control.js';
export {
  archMatches,
  formatRelation,
  formatRelationGroup,
  formatRelations,
  parseProvides,
  parseRelations,
  relationsForArchitecture,
} from './relations.js';
export type {
  ArchRestriction,
  ProfileTerm,
  ProvidedPackage,
  Relation,
  RelationGroup,
  VersionConstraint,
} from './relations.js';
export {
  compareDebianVersions,
  formatDebianVersion,
  isValidDebianVersion,
  normalizeRelationOperator,
  parseDebianVersion,
  satisfiesRelation,
} from './version.js';
export type { DebianVersion, RelationOperator, RelationOperatorInput } from './version.js';
export { assertClosure, checkClosure } from './closure.js';
export type { ClosureInput, ClosureProblem, ClosureProblemKind, ClosureReport } from './closure.js';
