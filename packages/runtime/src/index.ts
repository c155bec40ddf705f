/**
 * What every process does at start, written once: the API and the worker start with
 * `startService` (config -> logger -> Redis check -> catalog + migrations), all three
 * processes (CLI included) open storage with `createStorages` and look databases up with
 * `databaseFor`.
 */
export { checkKeysInUse, KeyStillInUseError } from './keys.js';
export { tryDatabaseLock, type DatabaseLockAttempt } from './cli-lock.js';
export { startService, runService, openMigratedCatalog, openCheckedCatalog, queuesFor, routingFor, locksFor, StartupError, type Started } from './start.js';
export { createStorages, type Storages, type StoragesOptions } from './storage.js';
export { databaseFor } from './databases.js';
export {
  planTargetRetention,
  retentionPolicyFor,
  pruneTarget,
  deleteCopies,
  finishInterruptedDeletes,
  runHousekeeping,
  type PruneProgress,
  type PruneTargetResult,
  type DeleteCopiesOptions,
  type DeleteCopiesResult,
  PENDING_UPLOAD_RULE,
  type RetentionPlanItem,
  type RetentionPlanView,
  type TargetRetentionPlan,
} from './retention.js';
export { storageUsageFor, checkBackupSpace, spaceNeeded, type UsageRow, type UsageReport } from './usage.js';
export { compactRecorded, compactForRetention, compactionCandidates, MAX_COMPACTIONS_PER_PRUNE, type CompactDeps, type CompactRecordedOptions, type CompactRecordedResult } from './compact.js';
