export type { StorageDriver, ObjectInfo, ListPage, PutOptions } from './driver.js';
export {
  StorageError,
  StorageNotFoundError,
  StorageInvalidKeyError,
  StorageInvalidCursorError,
  StorageUnsupportedSchemeError,
  StorageInvalidUrlError,
  StorageDiskFullError,
  StoragePermissionError,
  StorageKeyConflictError,
  StorageIoError,
  StorageAbortedError,
} from './errors.js';
export { validateKey, validatePrefix, compareKeys, TEMP_PREFIX, MAX_KEY_BYTES, MAX_SEGMENT_BYTES } from './keys.js';
export { LocalStorageDriver, fileUrlToRoot } from './local.driver.js';
export { fsyncDir, fsyncFile } from './fsync.js';
export { openStorage, registerDriver, registeredSchemes, redactUrl } from './registry.js';
export type { DriverFactory, OpenStorageOptions } from './registry.js';
