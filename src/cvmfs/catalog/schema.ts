/** Catalog schema 2.5, revision 7 (`catalog_sql.cc` CreateEmptyDatabase), reproduced exactly. */
export const CATALOG_SCHEMA = '2.5';
export const CATALOG_SCHEMA_REVISION = 7;

export const CATALOG_DDL = `
CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));
CREATE TABLE catalog (md5path_1 INTEGER, md5path_2 INTEGER, parent_1 INTEGER, parent_2 INTEGER,
  hardlinks INTEGER, hash BLOB, size INTEGER, mode INTEGER, mtime INTEGER, mtimens INTEGER,
  flags INTEGER, name TEXT, symlink TEXT, uid INTEGER, gid INTEGER, xattr BLOB,
  CONSTRAINT pk_catalog PRIMARY KEY (md5path_1, md5path_2));
CREATE INDEX idx_catalog_parent ON catalog (parent_1, parent_2);
CREATE TABLE chunks (md5path_1 INTEGER, md5path_2 INTEGER, offset INTEGER, size INTEGER, hash BLOB,
  CONSTRAINT pk_chunks PRIMARY KEY (md5path_1, md5path_2, offset, size),
  FOREIGN KEY (md5path_1, md5path_2) REFERENCES catalog(md5path_1, md5path_2));
CREATE TABLE nested_catalogs (path TEXT, sha1 TEXT, size INTEGER,
  CONSTRAINT pk_nested_catalogs PRIMARY KEY (path));
CREATE TABLE bind_mountpoints (path TEXT, sha1 TEXT, size INTEGER,
  CONSTRAINT pk_bind_mountpoints PRIMARY KEY (path));
CREATE TABLE statistics (counter TEXT, value INTEGER, CONSTRAINT pk_statistics PRIMARY KEY (counter));
`;

/** History (tag) database schema 1.0, revision 3 (`history_sql.cc`). */
export const HISTORY_SCHEMA = '1.0';
export const HISTORY_SCHEMA_REVISION = 3;

export const HISTORY_DDL = `
CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));
CREATE TABLE branches (branch TEXT, parent TEXT, initial_revision INTEGER,
  CONSTRAINT pk_branch PRIMARY KEY (branch),
  FOREIGN KEY (parent) REFERENCES branches (branch),
  CHECK ((branch <> '') OR (parent IS NULL)),
  CHECK ((branch = '') OR (parent IS NOT NULL)));
INSERT INTO branches (branch, parent, initial_revision) VALUES ('', NULL, 0);
CREATE TABLE tags (name TEXT, hash TEXT, revision INTEGER, timestamp INTEGER, channel INTEGER,
  description TEXT, size INTEGER, branch TEXT, CONSTRAINT pk_tags PRIMARY KEY (name),
  FOREIGN KEY (branch) REFERENCES branches (branch));
CREATE TABLE recycle_bin (hash TEXT, flags INTEGER, CONSTRAINT pk_hash PRIMARY KEY (hash));
`;
