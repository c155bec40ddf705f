export type { StorageDriver, StorageCapabilities, ObjectInfo, ListPage, PutOptions } from './driver.js';
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
  StorageInvalidOptionsError,
  StorageChecksumMismatchError,
  StorageBucketNotFoundError,
  StorageAccessDeniedError,
  StorageAuthFailedError,
  StorageUnavailableError,
  StorageRejectedError,
} from './errors.js';
export { validateKey, validatePrefix, compareKeys, TEMP_PREFIX, MAX_KEY_BYTES, MAX_SEGMENT_BYTES } from './keys.js';
export { LocalStorageDriver, fileUrlToRoot } from './local.driver.js';
export { fsyncDir, fsyncFile } from './fsync.js';
export { openStorage, openTarget, registerDriver, registeredSchemes, redactUrl } from './registry.js';
export type { DriverFactory, OpenStorageOptions, TargetSpec } from './registry.js';
export { S3StorageDriver, S3_OPTIONS, S3_STORAGE_CLASSES } from './s3.driver.js';
export { parseDriverOptions, checkSha256Option } from './options.js';
export type { OptionSpec, ParsedOptions } from './options.js';
// gs:// and azblob:// (SDKs loaded lazily on first use).
import './cloud-register.js';
export { GcsStorageDriver, GCS_STORAGE_CLASSES } from './gs.driver.js';
export { AzureBlobStorageDriver, AZURE_ACCESS_TIERS } from './azblob.driver.js';
