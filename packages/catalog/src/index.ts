export type * from './types.js';
export { openCatalog, SqliteCatalog } from './sqlite.catalog.js';
export type { OpenCatalogOptions } from './sqlite.catalog.js';
export { rebuildFromStorage } from './rebuild.js';
export type { RebuildOptions, RebuildReport } from './rebuild.js';
export { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
export type { Migration } from './migrations.js';
export {
  CatalogError,
  CatalogNotFoundError,
  CatalogInvalidQueryError,
  CatalogInvalidRecordError,
  CatalogSchemaTooNewError,
  CatalogBusyError,
  CatalogCorruptError,
  CatalogIoError,
} from './errors.js';
export { openPostgresCatalog, PostgresCatalog } from './postgres.catalog.js';
export type { OpenPostgresCatalogOptions } from './postgres.catalog.js';
export { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './postgres.migrations.js';
export { copyCatalog, type CopyReport, type CopyOptions } from './copy.js';
