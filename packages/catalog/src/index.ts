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
  CatalogBackupDeletingError,
  CatalogInvalidQueryError,
  CatalogInvalidRecordError,
  CatalogSchemaTooNewError,
  CatalogBusyError,
  CatalogCorruptError,
  CatalogIoError,
} from './errors.js';
