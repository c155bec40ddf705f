/**
 * Rules every catalog implementation shares (SQLite, PostgreSQL): record checks, cursors,
 * limits, timestamps. One place, so both stores accept and refuse exactly the same input.
 */
import type { Manifest } from '@mfb/backup';
import type { BackupLocation, BackupRecord, DrillRecord, JobHistoryRecord, NewLocation, ScheduleRecord } from './types.js';
import { CatalogInvalidQueryError, CatalogInvalidRecordError } from './errors.js';

const CURSOR_VERSION = 1;
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export function toMs(value: string, field: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new CatalogInvalidQueryError(`${field}: not an ISO-8601 time: ${JSON.stringify(value).slice(0, 60)}`);
  return ms;
}

export function isoOrNow(value: string | undefined, now: () => Date, field: string): string {
  if (value === undefined) return now().toISOString();
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new CatalogInvalidRecordError(`${field}: not an ISO-8601 time`);
  return new Date(ms).toISOString();
}

export function encodeCursor(createdMs: number, backupId: string): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, createdMs, backupId])).toString('base64url');
}

export function decodeCursor(cursor: string): { t: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v[0] === CURSOR_VERSION && Number.isSafeInteger(v[1]) && typeof v[2] === 'string') {
      return { t: v[1] as number, id: v[2] };
    }
  } catch {
    // fall through to the error below
  }
  throw new CatalogInvalidQueryError('cursor: not a cursor returned by this catalog');
}

/** The fields the catalog itself relies on; full manifest validation is the engine's job. */
export function checkManifest(m: Manifest): number {
  if (typeof m !== 'object' || m === null) throw new CatalogInvalidRecordError('manifest: not an object');
  if (typeof m.backupId !== 'string' || m.backupId === '') throw new CatalogInvalidRecordError('manifest.backupId: missing');
  if (typeof m.databaseId !== 'string' || m.databaseId === '') throw new CatalogInvalidRecordError('manifest.databaseId: missing');
  const ms = typeof m.createdAt === 'string' ? Date.parse(m.createdAt) : NaN;
  if (Number.isNaN(ms)) throw new CatalogInvalidRecordError('manifest.createdAt: not an ISO-8601 time');
  if (!m.artifact || !Number.isSafeInteger(m.artifact.sizeBytes) || m.artifact.sizeBytes < 0) {
    throw new CatalogInvalidRecordError('manifest.artifact.sizeBytes: not a size');
  }
  return ms;
}

export function checkLocation(loc: NewLocation): void {
  if (typeof loc.target !== 'string' || loc.target === '') throw new CatalogInvalidRecordError('location.target: missing');
  if (typeof loc.artifactKey !== 'string' || loc.artifactKey === '') throw new CatalogInvalidRecordError('location.artifactKey: missing');
  const c = loc.storageClass;
  if (c !== undefined && c !== null && (typeof c !== 'string' || c === '')) throw new CatalogInvalidRecordError('location.storageClass: not a class name');
}

/** Parameters of `upsertLocation`; a null class (unknown) keeps a class recorded before. */
export function locationRow(backupId: string, loc: NewLocation, storedAt: string, b: { database_id: string; created_ms: number }) {
  return {
    backupId,
    target: loc.target,
    artifactKey: loc.artifactKey,
    storedAt,
    databaseId: b.database_id,
    createdMs: b.created_ms,
    storageClass: loc.storageClass ?? null,
  };
}


/** A page size 1..MAX_LIMIT (default DEFAULT_LIMIT). */
export function checkLimit(limit: number | undefined): number {
  const l = limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(l) || l < 1 || l > MAX_LIMIT) throw new CatalogInvalidQueryError(`limit: must be an integer 1-${MAX_LIMIT}, got ${String(l)}`);
  return l;
}

/** The fields a schedule must have before either store saves it. */
export function checkSchedule(sch: Omit<ScheduleRecord, 'updatedAt'>): void {
  if (!sch.databaseId || !sch.scheduleId) throw new CatalogInvalidRecordError('schedule: databaseId and scheduleId are required');
  if (!['backup', 'verify', 'prune'].includes(sch.job)) throw new CatalogInvalidRecordError(`schedule.job: must be backup, verify or prune`);
  if (!['config', 'api'].includes(sch.origin)) throw new CatalogInvalidRecordError(`schedule.origin: must be config or api`);
  if (typeof sch.cron !== 'string' || sch.cron.trim() === '') throw new CatalogInvalidRecordError('schedule.cron: missing');
  if (typeof sch.timezone !== 'string' || sch.timezone === '') throw new CatalogInvalidRecordError('schedule.timezone: missing');
}

/** A `restore_drills` row (both catalogs). */
export interface DrillRow {
  database_id: string;
  target: string;
  last_run_at: string;
  last_outcome: 'ok' | 'failed';
  last_backup_id: string | null;
  last_error_code: string | null;
  last_error: string | null;
  last_ok_at: string | null;
  last_ok_backup_id: string | null;
}

export function drillFromRow(r: DrillRow): DrillRecord {
  return {
    databaseId: r.database_id,
    target: r.target,
    lastRunAt: r.last_run_at,
    lastOutcome: r.last_outcome,
    lastBackupId: r.last_backup_id,
    lastErrorCode: r.last_error_code,
    lastError: r.last_error,
    lastVerifiedAt: r.last_ok_at,
    lastVerifiedBackupId: r.last_ok_backup_id,
  };
}

/** A job_history row, as both stores return it. */
export interface JobRow {
  queue: string;
  job_id: string;
  name: string;
  database_id: string;
  state: JobHistoryRecord['state'];
  attempts: number;
  started_at: string;
  finished_at: string;
  error: string | null;
  result: string | null;
  lock_acquired_at: string | null;
  lock_released_at: string | null;
}

/** A schedules row (`paused`: 0/1 in SQLite, a boolean in PostgreSQL). */
export interface ScheduleRow {
  database_id: string;
  schedule_id: string;
  job: ScheduleRecord['job'];
  cron: string;
  timezone: string;
  paused: number | boolean;
  origin: ScheduleRecord['origin'];
  updated_at: string;
}

export function jobFromRow(r: JobRow): JobHistoryRecord {
  return {
    jobId: r.job_id,
    queue: r.queue,
    name: r.name,
    databaseId: r.database_id,
    state: r.state,
    attempts: r.attempts,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    lockAcquiredAt: r.lock_acquired_at ?? null,
    lockReleasedAt: r.lock_released_at ?? null,
  };
}

export function scheduleFromRow(r: ScheduleRow): ScheduleRecord {
  return {
    databaseId: r.database_id,
    scheduleId: r.schedule_id,
    job: r.job,
    cron: r.cron,
    timezone: r.timezone,
    paused: r.paused === true || r.paused === 1,
    origin: r.origin,
    updatedAt: r.updated_at,
  };
}

/** A backups row (`pinned`: 0/1 in SQLite, a boolean in PostgreSQL). */
export interface BackupRow {
  backup_id: string;
  database_id: string;
  created_ms: number;
  size_bytes: number;
  pinned: number | boolean;
  manifest: string;
}

/** A backup_locations row. */
export interface LocationRow {
  backup_id: string;
  target: string;
  artifact_key: string;
  stored_at: string;
  deleted_at: string | null;
  storage_class: string | null;
}

/** Backup records from their rows and the rows of their locations (any order). */
export function recordsFromRows(rows: readonly BackupRow[], locs: readonly LocationRow[]): BackupRecord[] {
  const byId = new Map<string, BackupLocation[]>();
  for (const l of locs) {
    let arr = byId.get(l.backup_id);
    if (!arr) byId.set(l.backup_id, (arr = []));
    arr.push({ target: l.target, artifactKey: l.artifact_key, storedAt: l.stored_at, storageClass: l.storage_class, deletedAt: l.deleted_at });
  }
  return rows.map((r) => ({
    backupId: r.backup_id,
    databaseId: r.database_id,
    createdAt: new Date(r.created_ms).toISOString(),
    sizeBytes: r.size_bytes,
    pinned: r.pinned === true || r.pinned === 1,
    manifest: JSON.parse(r.manifest) as Manifest,
    locations: byId.get(r.backup_id) ?? [],
  }));
}
