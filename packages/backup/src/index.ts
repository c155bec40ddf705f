export type * from './types.js';
export { createBackup } from './backup.js';
export { verifyBackup } from './verify.js';
export { rekeyBackup, rekeyedBackupId, type RekeyCopy, type RekeyedCopy, type RekeyOptions, type RekeyResult, type RekeyStep } from './rekey.js';
export { restoreBackup } from './restore.js';
export { compactBackup, compactedBackupId, type CompactOptions, type CompactResult } from './compact.js';
export { readManifest, manifestProblems } from './manifest.js';
export { inspectArtifact, type ArtifactInspection } from './inspect.js';
export { cleanupTempFiles, reclaimStaleScratch, UNKNOWN_OWNER_STALE_MS } from './tempfiles.js';
export { newBackupId, manifestKeyFor, pinKeyFor, artifactKeyFor, MANIFEST_SUFFIX, PIN_SUFFIX, BACKUP_ID_RE, DATABASE_ID_RE } from './ids.js';
export { writePinMarker, deletePinMarker, hasPinMarker, PIN_FORMAT_VERSION, type PinMarker } from './pin.js';
export { copyBackup, deleteCopy, type CopyOptions, type CopyResult } from './copies.js';
export { TOOL_NAME, TOOL_VERSION } from './version.js';
export { DEFAULT_LEVEL as DEFAULT_COMPRESSION_LEVEL, resolveLevel as resolveCompressionLevel } from './compress.js';
export {
  ENCRYPTION_ALGORITHM,
  DEFAULT_CHUNK_SIZE,
  KEY_BYTES,
  Encryptor,
  Decryptor,
  encryptBuffer,
  decryptBuffer,
  parseHeader as parseEncryptionHeader,
  type EncryptionHeader,
  type EncryptorOptions,
} from './crypto.js';
export { probeSource, snapshotNeedsScratch, takeSnapshot, type SnapshotInfo, type SnapshotMethod, type SnapshotOptions } from './snapshot.js';
export * from './errors.js';
export { tryLocalLock, localLockHolder, type LocalLock, type LocalLockInfo } from './local-lock.js';
export { reclaimOrphanArtifacts, ORPHAN_ARTIFACT_AGE_MS } from './orphans.js';
