import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Manifest } from '@mfb/backup';
import type {
  DrillOutcome,
  DrillRecord,
  KeyUsage,
  BackupQuery,
  BackupRecord,
  BeginDeletesResult,
  Catalog,
  CopyRef,
  DeletingCopy,
  HousekeepingQuery,
  HousekeepingResult,
  HealthSummary,
  JobHistoryRecord,
  Page,
  ScheduleRecord,
  StorageUsage,
  NewLocation,
} from './types.js';
import { CatalogBackupDeletingError, CatalogInvalidQueryError, CatalogInvalidRecordError, CatalogNotFoundError, CatalogSchemaTooNewError, mapDbError } from './errors.js';
import { checkLimit, checkLocation, checkManifest, checkSchedule, decodeCursor, drillFromRow, encodeCursor, isoOrNow, locationRow, toMs, type DrillRow, MAX_LIMIT, jobFromRow, scheduleFromRow, type JobRow, type ScheduleRow, recordsFromRows, type BackupRow, type LocationRow } from './records.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export interface OpenCatalogOptions {
  /** Apply pending migrations while opening (default true; `migrate()` stays idempotent). */
  migrate?: boolean;
  /** How long a statement waits for another process's lock before CATALOG_BUSY. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Clock for `updatedAt` / default timestamps (tests). */
  now?: () => Date;
}



interface DeletingRow {
  backup_id: string;
  database_id: string;
  target: string;
  artifact_key: string;
  deleting_at: string;
}

interface UsageRow {
  database_id: string;
  target: string;
  backups: number;
  bytes: number;
  first_ms: number | null;
}



/** Live copies per (database, target) and the oldest backup ever copied there (`where` filters `l`). */
const usageSql = (where: string): string =>
  `SELECT l.database_id, l.target,
          count(*) FILTER (WHERE l.deleted_at IS NULL) AS backups,
          coalesce(sum(b.size_bytes) FILTER (WHERE l.deleted_at IS NULL), 0) AS bytes,
          min(l.created_ms) AS first_ms
   FROM backup_locations l JOIN backups b ON b.backup_id = l.backup_id
   ${where}
   GROUP BY l.database_id, l.target ORDER BY l.database_id, l.target`;

/**
 * The SQLite catalog (better-sqlite3, WAL, busy_timeout). Statements are synchronous in
 * better-sqlite3; the methods are async to keep the `Catalog` contract that a PostgreSQL
 * implementation can also satisfy.
 *
 * `synchronous=NORMAL` (the WAL recommendation): a power cut may lose the last few commits,
 * never corrupt the file; storage is the source of truth and `rebuildFromStorage` restores them.
 */
export class SqliteCatalog implements Catalog {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly now: () => Date;
  private prepared: ReturnType<SqliteCatalog['prepare']> | undefined;
  /** listBackups statements by SQL text (a few dozen filter combinations at most). */
  private readonly listStmts = new Map<string, Database.Statement<[Record<string, unknown>], BackupRow>>();

  constructor(file: string, opts: OpenCatalogOptions = {}) {
    this.path = path.resolve(file);
    this.now = opts.now ?? (() => new Date());
    mkdirSync(path.dirname(this.path), { recursive: true, mode: 0o700 });
    // Create the file 0600 ourselves: SQLite would use 0644, and its -wal/-shm files copy the mode.
    closeSync(openSync(this.path, 'a', 0o600));
    try {
      this.db = new Database(this.path, { timeout: opts.busyTimeoutMs ?? 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma(`busy_timeout = ${Math.floor(opts.busyTimeoutMs ?? 5000)}`);
    } catch (err) {
      throw mapDbError(`open catalog ${this.path}`, err);
    }
  }

  /** Prepared statements; created after migrations so the tables exist. */
  private prepare() {
    const db = this.db;
    return {
      insertBackup: db.prepare(
        `INSERT INTO backups (backup_id, database_id, created_ms, size_bytes, pinned, manifest)
         VALUES (@backupId, @databaseId, @createdMs, @sizeBytes, 0, @manifest)
         ON CONFLICT (backup_id) DO NOTHING`,
      ),
      upsertLocation: db.prepare(
        `INSERT INTO backup_locations (backup_id, target, artifact_key, stored_at, deleted_at, database_id, created_ms, storage_class)
         VALUES (@backupId, @target, @artifactKey, @storedAt, NULL, @databaseId, @createdMs, @storageClass)
         ON CONFLICT (backup_id, target) DO UPDATE SET artifact_key = excluded.artifact_key,
           storage_class = COALESCE(excluded.storage_class, backup_locations.storage_class),
           stored_at = CASE WHEN backup_locations.deleted_at IS NULL THEN backup_locations.stored_at ELSE excluded.stored_at END,
           deleted_at = NULL, deleting_at = NULL`,
      ),
      backupBrief: db.prepare<[string], { database_id: string; created_ms: number }>(
        'SELECT database_id, created_ms FROM backups WHERE backup_id = ?',
      ),
      markDeleted: db.prepare(
        'UPDATE backup_locations SET deleted_at = @at, deleting_at = NULL WHERE backup_id = @backupId AND target = @target AND deleted_at IS NULL',
      ),
      pinState: db.prepare<[string], { pinned: number; live: number; deleting: number }>(
        `SELECT b.pinned, b.live_count AS live,
                (SELECT count(*) FROM backup_locations l WHERE l.backup_id = b.backup_id AND l.deleted_at IS NULL AND l.deleting_at IS NOT NULL) AS deleting
         FROM backups b WHERE b.backup_id = ?`,
      ),
      liveCopy: db.prepare<[string, string], { database_id: string; artifact_key: string; deleting_at: string | null; pinned: number }>(
        `SELECT l.database_id, l.artifact_key, l.deleting_at, b.pinned FROM backup_locations l JOIN backups b ON b.backup_id = l.backup_id
         WHERE l.backup_id = ? AND l.target = ? AND l.deleted_at IS NULL`,
      ),
      markDeleting: db.prepare('UPDATE backup_locations SET deleting_at = @at WHERE backup_id = @backupId AND target = @target AND deleted_at IS NULL AND deleting_at IS NULL'),
      deletingAll: db.prepare<[], DeletingRow>(
        `SELECT backup_id, database_id, target, artifact_key, deleting_at FROM backup_locations
         WHERE deleting_at IS NOT NULL AND deleted_at IS NULL ORDER BY deleting_at, backup_id, target`,
      ),
      deletingOf: db.prepare<[{ db: string; target: string | null }], DeletingRow>(
        `SELECT backup_id, database_id, target, artifact_key, deleting_at FROM backup_locations
         WHERE deleting_at IS NOT NULL AND deleted_at IS NULL AND database_id = @db AND (@target IS NULL OR target = @target) ORDER BY deleting_at, backup_id, target`,
      ),
      // Incremental chains: the ancestors (parent, its parent, ... the full base) of the pinned
      // backups of a database, and of one backup. A pinned delta needs them all to restore.
      pinnedAncestors: db.prepare<[string], { id: string }>(
        `WITH RECURSIVE anc(id) AS (
           SELECT json_extract(manifest, '$.parentId') FROM backups WHERE database_id = ? AND pinned = 1 AND json_extract(manifest, '$.parentId') IS NOT NULL
           UNION
           SELECT json_extract(b.manifest, '$.parentId') FROM backups b JOIN anc ON b.backup_id = anc.id WHERE json_extract(b.manifest, '$.parentId') IS NOT NULL
         ) SELECT id FROM anc`,
      ),
      deletingAncestor: db.prepare<[string], { id: string }>(
        `WITH RECURSIVE anc(id) AS (
           SELECT json_extract(manifest, '$.parentId') FROM backups WHERE backup_id = ? AND json_extract(manifest, '$.parentId') IS NOT NULL
           UNION
           SELECT json_extract(b.manifest, '$.parentId') FROM backups b JOIN anc ON b.backup_id = anc.id WHERE json_extract(b.manifest, '$.parentId') IS NOT NULL
         ) SELECT anc.id FROM anc JOIN backup_locations l ON l.backup_id = anc.id WHERE l.deleted_at IS NULL AND l.deleting_at IS NOT NULL LIMIT 1`,
      ),
      trimJobsBefore: db.prepare('DELETE FROM job_history WHERE finished_at < ?'),
      trimJobsOver: db.prepare('DELETE FROM job_history WHERE rowid IN (SELECT rowid FROM job_history ORDER BY finished_at DESC, job_id DESC LIMIT -1 OFFSET ?)'),
      trimDeletedBackups: db.prepare(
        `DELETE FROM backups WHERE backup_id IN (
           SELECT b.backup_id FROM backups b
           WHERE b.live_count = 0 AND b.pinned = 0
             AND NOT EXISTS (SELECT 1 FROM backup_locations l WHERE l.backup_id = b.backup_id AND (l.deleted_at IS NULL OR l.deleted_at >= @before))
             -- the oldest copy ever made per (database, target) stays: storageUsage().firstCopyAt
             AND NOT EXISTS (SELECT 1 FROM backup_locations l WHERE l.backup_id = b.backup_id
                   AND l.created_ms = (SELECT min(m.created_ms) FROM backup_locations m WHERE m.database_id = l.database_id AND m.target = l.target))
           LIMIT 5000)`,
      ),
      locationExists: db.prepare<[string, string], { n: number }>('SELECT 1 AS n FROM backup_locations WHERE backup_id = ? AND target = ?'),
      getBackup: db.prepare<[string], BackupRow>('SELECT backup_id, database_id, created_ms, size_bytes, pinned, manifest FROM backups WHERE backup_id = ?'),
      locationsOf: db.prepare<[string], LocationRow>(
        `SELECT backup_id, target, artifact_key, stored_at, deleted_at, storage_class FROM backup_locations
         WHERE backup_id IN (SELECT value FROM json_each(?)) ORDER BY stored_at, target`,
      ),
      setPinned: db.prepare('UPDATE backups SET pinned = ? WHERE backup_id = ?'),
      latest: db.prepare<[string], BackupRow>(
        `SELECT backup_id, database_id, created_ms, size_bytes, pinned, manifest FROM backups
         WHERE database_id = ? AND live_count > 0 ORDER BY created_ms DESC, backup_id DESC LIMIT 1`,
      ),
      latestCreated: db.prepare<[string], { created_ms: number }>(
        'SELECT created_ms FROM backups WHERE database_id = ? AND live_count > 0 ORDER BY created_ms DESC, backup_id DESC LIMIT 1',
      ),
      lastBackupJobs: db.prepare<[string, number], { state: 'completed' | 'failed'; finished_at: string; error: string | null }>(
        "SELECT state, finished_at, error FROM job_history WHERE database_id = ? AND name = 'backup' ORDER BY finished_at DESC LIMIT ?",
      ),
      lastVerified: db.prepare<[string], { finished_at: string }>(
        "SELECT finished_at FROM job_history WHERE database_id = ? AND name = 'verify' AND state = 'completed' ORDER BY finished_at DESC LIMIT 1",
      ),
      usageAll: db.prepare<[], UsageRow>(usageSql('')),
      usageOf: db.prepare<[string], UsageRow>(usageSql('WHERE l.database_id = ?')),
      upsertSchedule: db.prepare(
        `INSERT INTO schedules (database_id, schedule_id, job, cron, timezone, paused, origin, updated_at)
         VALUES (@databaseId, @scheduleId, @job, @cron, @timezone, @paused, @origin, @updatedAt)
         ON CONFLICT (database_id, schedule_id) DO UPDATE SET job = excluded.job, cron = excluded.cron,
           timezone = excluded.timezone, paused = excluded.paused, origin = excluded.origin, updated_at = excluded.updated_at`,
      ),
      listSchedules: db.prepare<[], ScheduleRow>('SELECT * FROM schedules ORDER BY database_id, schedule_id'),
      listSchedulesOf: db.prepare<[string], ScheduleRow>('SELECT * FROM schedules WHERE database_id = ? ORDER BY schedule_id'),
      getSchedule: db.prepare<[string, string], ScheduleRow>('SELECT * FROM schedules WHERE database_id = ? AND schedule_id = ?'),
      deleteSchedule: db.prepare('DELETE FROM schedules WHERE database_id = ? AND schedule_id = ?'),
      upsertJob: db.prepare(
        `INSERT INTO job_history (queue, job_id, name, database_id, state, attempts, started_at, finished_at, error, result, lock_acquired_at, lock_released_at)
         VALUES (@queue, @jobId, @name, @databaseId, @state, @attempts, @startedAt, @finishedAt, @error, @result, @lockAcquiredAt, @lockReleasedAt)
         ON CONFLICT (queue, job_id) DO UPDATE SET name = excluded.name, database_id = excluded.database_id,
           state = excluded.state, attempts = excluded.attempts, started_at = excluded.started_at,
           finished_at = excluded.finished_at, error = excluded.error, result = excluded.result,
           lock_acquired_at = excluded.lock_acquired_at, lock_released_at = excluded.lock_released_at`,
      ),
      listJobs: db.prepare<[number], JobRow>('SELECT * FROM job_history ORDER BY finished_at DESC, job_id DESC LIMIT ?'),
      getJob: db.prepare<[string], JobRow>('SELECT * FROM job_history WHERE job_id = ? ORDER BY finished_at DESC, queue LIMIT 1'),
      upsertDrill: db.prepare(
        `INSERT INTO restore_drills (database_id, target, last_run_at, last_outcome, last_backup_id, last_error_code, last_error, last_ok_at, last_ok_backup_id)
         VALUES (@databaseId, @target, @at, @outcome, @backupId, @errorCode, @error,
                 CASE WHEN @outcome = 'ok' THEN @at END, CASE WHEN @outcome = 'ok' THEN @backupId END)
         ON CONFLICT (database_id, target) DO UPDATE SET last_run_at = excluded.last_run_at, last_outcome = excluded.last_outcome,
           last_backup_id = excluded.last_backup_id, last_error_code = excluded.last_error_code, last_error = excluded.last_error,
           last_ok_at = COALESCE(excluded.last_ok_at, restore_drills.last_ok_at),
           last_ok_backup_id = CASE WHEN excluded.last_ok_at IS NULL THEN restore_drills.last_ok_backup_id ELSE excluded.last_ok_backup_id END`,
      ),
      getDrill: db.prepare<[string, string], DrillRow>('SELECT * FROM restore_drills WHERE database_id = ? AND target = ?'),
      listDrills: db.prepare<[], DrillRow>('SELECT * FROM restore_drills ORDER BY database_id, target'),
      listDrillsOf: db.prepare<[string], DrillRow>('SELECT * FROM restore_drills WHERE database_id = ? ORDER BY target'),
      keyUsage: db.prepare<[], { key_id: string; n: number }>(
        `SELECT json_extract(manifest, '$.encryption.keyId') AS key_id, count(*) AS n FROM backups
         WHERE live_count > 0 AND key_id IS NOT NULL GROUP BY key_id ORDER BY key_id`,
      ),
      keyExamples: db.prepare<[string], { database_id: string; backup_id: string }>(
        `SELECT database_id, backup_id FROM backups WHERE live_count > 0 AND json_extract(manifest, '$.encryption.keyId') = ?
         ORDER BY created_ms DESC, backup_id DESC LIMIT 20`,
      ),
      configKeyIds: db.prepare<[], { key_id: string }>('SELECT key_id FROM config_keys ORDER BY key_id'),
      clearConfigKeys: db.prepare('DELETE FROM config_keys'),
      addConfigKey: db.prepare('INSERT INTO config_keys (key_id, seen_at) VALUES (?, ?)'),
      listJobsOf: db.prepare<[string, number], JobRow>(
        'SELECT * FROM job_history WHERE database_id = ? ORDER BY finished_at DESC, job_id DESC LIMIT ?',
      ),
    };
  }

  private get s(): ReturnType<SqliteCatalog['prepare']> {
    if (!this.prepared) {
      try {
        this.prepared = this.prepare();
      } catch (err) {
        throw mapDbError(`catalog ${this.path} (run migrate() first?)`, err);
      }
    }
    return this.prepared;
  }

  private guard<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw mapDbError(op, err);
    }
  }

  /** Applied schema version (0 = empty file). */
  schemaVersion(): number {
    return this.guard('read schema version', () => {
      const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
      if (!exists) return 0;
      const row = this.db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
      return row.v ?? 0;
    });
  }

  async migrate(): Promise<void> {
    this.guard(`migrate catalog ${this.path}`, () => {
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version    INTEGER PRIMARY KEY,
           name       TEXT NOT NULL,
           applied_at TEXT NOT NULL
         )`,
      );
      const current = this.schemaVersion();
      if (current > SCHEMA_VERSION) throw new CatalogSchemaTooNewError(this.path, current, SCHEMA_VERSION);
      for (const m of MIGRATIONS) {
        // IMMEDIATE: two processes starting together (API and worker) serialize here, and the
        // loser sees the version the winner recorded instead of applying it twice.
        this.db
          .transaction(() => {
            const done = this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
            if (done) return;
            this.db.exec(m.sql);
            this.db
              .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
              .run(m.version, m.name, this.now().toISOString());
          })
          .immediate();
      }
    });
    this.prepared = undefined;
    this.listStmts.clear();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async recordBackup(manifest: Manifest, location: NewLocation): Promise<void> {
    const createdMs = checkManifest(manifest);
    checkLocation(location);
    const storedAt = isoOrNow(location.storedAt, this.now, 'location.storedAt');
    const s = this.s;
    this.guard(`record backup ${manifest.backupId}`, () =>
      this.db
        .transaction(() => {
          s.insertBackup.run({
            backupId: manifest.backupId,
            databaseId: manifest.databaseId,
            createdMs,
            sizeBytes: manifest.artifact.sizeBytes,
            manifest: JSON.stringify(manifest),
          });
          const b = s.backupBrief.get(manifest.backupId)!;
          s.upsertLocation.run(locationRow(manifest.backupId, location, storedAt, b));
        })
        .immediate(),
    );
  }

  async addLocation(backupId: string, location: NewLocation): Promise<void> {
    checkLocation(location);
    const storedAt = isoOrNow(location.storedAt, this.now, 'location.storedAt');
    const s = this.s;
    this.guard(`add location ${location.target} to backup ${backupId}`, () =>
      this.db
        .transaction(() => {
          const b = s.backupBrief.get(backupId);
          if (!b) throw new CatalogNotFoundError(`backup ${backupId}`);
          s.upsertLocation.run(locationRow(backupId, location, storedAt, b));
        })
        .immediate(),
    );
  }

  async markLocationDeleted(backupId: string, target: string, at?: string): Promise<void> {
    const when = isoOrNow(at, this.now, 'at');
    const s = this.s;
    this.guard(`mark ${target} copy of backup ${backupId} deleted`, () =>
      this.db
        .transaction(() => {
          if (!s.backupBrief.get(backupId)) throw new CatalogNotFoundError(`backup ${backupId}`);
          if (!s.locationExists.get(backupId, target)) throw new CatalogNotFoundError(`copy of backup ${backupId} on target ${target}`);
          s.markDeleted.run({ at: when, backupId, target }); // already deleted: unchanged (idempotent)
        })
        .immediate(),
    );
  }

  private toRecords(rows: BackupRow[]): BackupRecord[] {
    if (rows.length === 0) return [];
    const locs = this.s.locationsOf.all(JSON.stringify(rows.map((r) => r.backup_id)));
    return recordsFromRows(rows, locs);
  }

  async getBackup(backupId: string): Promise<BackupRecord | null> {
    return this.guard(`get backup ${backupId}`, () => {
      const row = this.s.getBackup.get(backupId);
      return row ? this.toRecords([row])[0]! : null;
    });
  }

  /** SQL for `listBackups`; `null` when the query cannot match anything. */
  private buildListQuery(query: BackupQuery): { sql: string; params: Record<string, unknown>; limit: number } | null {
    const limit = checkLimit(query.limit);
    if (query.status !== undefined && query.status !== 'available' && query.status !== 'deleted') {
      throw new CatalogInvalidQueryError(`status: must be available or deleted, got ${JSON.stringify(query.status)}`);
    }
    const params: Record<string, unknown> = { limit: limit + 1 };
    const where: string[] = [];
    const byTarget = query.target !== undefined;
    // Target queries page on the partial index of live locations; the others on backups.
    const t = byTarget ? 'l' : 'b';
    if (byTarget) {
      if (query.status === 'deleted') return null; // a live copy on the target contradicts "deleted"
      where.push('l.target = @target', 'l.deleted_at IS NULL');
      params['target'] = query.target;
    } else if (query.status === 'available') {
      where.push('b.live_count > 0');
    } else if (query.status === 'deleted') {
      where.push('b.live_count = 0');
    }
    if (query.databaseId !== undefined) {
      where.push(`${t}.database_id = @databaseId`);
      params['databaseId'] = query.databaseId;
    }
    if (query.createdAfter !== undefined) {
      where.push(`${t}.created_ms > @after`);
      params['after'] = toMs(query.createdAfter, 'createdAfter');
    }
    if (query.createdBefore !== undefined) {
      where.push(`${t}.created_ms < @before`);
      params['before'] = toMs(query.createdBefore, 'createdBefore');
    }
    if (query.cursor !== undefined && query.cursor !== '') {
      const c = decodeCursor(query.cursor);
      where.push(`(${t}.created_ms, ${t}.backup_id) < (@ct, @cid)`);
      params['ct'] = c.t;
      params['cid'] = c.id;
    }
    const cols = 'b.backup_id, b.database_id, b.created_ms, b.size_bytes, b.pinned, b.manifest';
    const from = byTarget ? 'backup_locations l JOIN backups b ON b.backup_id = l.backup_id' : 'backups b';
    const sql =
      `SELECT ${cols} FROM ${from}` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY ${t}.created_ms DESC, ${t}.backup_id DESC LIMIT @limit`;
    return { sql, params, limit };
  }

  /**
   * Newest first by (createdAt, backupId), keyset-paginated: a cursor names the last row of
   * the previous page, so pages never overlap or skip rows even when rows are added meanwhile
   * or timestamps are equal. `createdAfter`/`createdBefore` are exclusive bounds. `target`
   * keeps backups with a live copy there; `status` is about live copies on any target.
   */
  async listBackups(query: BackupQuery): Promise<Page<BackupRecord>> {
    const q = this.buildListQuery(query);
    if (!q) return { items: [], nextCursor: null };
    return this.guard('list backups', () => {
      let st = this.listStmts.get(q.sql);
      if (!st) this.listStmts.set(q.sql, (st = this.db.prepare<[Record<string, unknown>], BackupRow>(q.sql)));
      const rows = st.all(q.params);
      const more = rows.length > q.limit;
      const page = more ? rows.slice(0, q.limit) : rows;
      const last = page[page.length - 1];
      return { items: this.toRecords(page), nextCursor: more && last ? encodeCursor(last.created_ms, last.backup_id) : null };
    });
  }

  /** `EXPLAIN QUERY PLAN` of `listBackups(query)`, for tests and the benchmark. */
  explainListBackups(query: BackupQuery): string[] {
    const q = this.buildListQuery(query);
    if (!q) return [];
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(q.params) as Array<{ detail: string }>).map((r) => r.detail);
  }

  async setPinned(backupId: string, pinned: boolean): Promise<void> {
    const s = this.s;
    this.guard(`pin backup ${backupId}`, () =>
      this.db
        .transaction(() => {
          const st = s.pinState.get(backupId);
          if (!st) throw new CatalogNotFoundError(`backup ${backupId}`);
          // The other half of `beginCopyDeletes`: both run IMMEDIATE, so either the pin
          // commits first (and the deletion is refused) or the deletion does (and this is).
          if (pinned && (st.deleting > 0 || st.live === 0 || s.deletingAncestor.get(backupId))) throw new CatalogBackupDeletingError(backupId);
          s.setPinned.run(pinned ? 1 : 0, backupId);
        })
        .immediate(),
    );
  }

  async beginCopyDeletes(copies: readonly CopyRef[], at?: string): Promise<BeginDeletesResult> {
    const when = isoOrNow(at, this.now, 'at');
    const s = this.s;
    return this.guard(`begin deleting ${copies.length} copies`, () =>
      this.db
        .transaction(() => {
          const out: BeginDeletesResult = { started: [], pinned: [], gone: [] };
          const needed = new Map<string, Set<string>>();
          const neededBy = (databaseId: string): Set<string> => {
            let set = needed.get(databaseId);
            if (!set) needed.set(databaseId, (set = new Set(s.pinnedAncestors.all(databaseId).map((r) => r.id))));
            return set;
          };
          for (const c of copies) {
            const row = s.liveCopy.get(c.backupId, c.target);
            if (!row) out.gone.push({ backupId: c.backupId, target: c.target });
            else if (row.deleting_at === null && (row.pinned === 1 || neededBy(row.database_id).has(c.backupId))) out.pinned.push({ backupId: c.backupId, target: c.target });
            else {
              s.markDeleting.run({ at: when, backupId: c.backupId, target: c.target });
              out.started.push({ backupId: c.backupId, target: c.target, databaseId: row.database_id, artifactKey: row.artifact_key, deletingAt: row.deleting_at ?? when });
            }
          }
          return out;
        })
        .immediate(),
    );
  }

  async markLocationsDeleted(copies: readonly CopyRef[], at?: string): Promise<void> {
    const when = isoOrNow(at, this.now, 'at');
    const s = this.s;
    this.guard(`mark ${copies.length} copies deleted`, () =>
      this.db
        .transaction(() => {
          for (const c of copies) s.markDeleted.run({ at: when, backupId: c.backupId, target: c.target });
        })
        .immediate(),
    );
  }

  async listDeletingCopies(query: { databaseId?: string; target?: string } = {}): Promise<DeletingCopy[]> {
    return this.guard('list copies being deleted', () => {
      const rows = query.databaseId === undefined ? this.s.deletingAll.all().filter((r) => query.target === undefined || r.target === query.target) : this.s.deletingOf.all({ db: query.databaseId, target: query.target ?? null });
      return rows.map((r) => ({ backupId: r.backup_id, databaseId: r.database_id, target: r.target, artifactKey: r.artifact_key, deletingAt: r.deleting_at }));
    });
  }

  async housekeep(query: HousekeepingQuery): Promise<HousekeepingResult> {
    const out: HousekeepingResult = { jobs: 0, backups: 0 };
    const s = this.s;
    if (query.jobsMax !== undefined && (!Number.isInteger(query.jobsMax) || query.jobsMax < 0)) {
      throw new CatalogInvalidQueryError(`jobsMax: must be an integer >= 0, got ${String(query.jobsMax)}`);
    }
    const jobsBefore = query.jobsFinishedBefore === undefined ? undefined : new Date(toMs(query.jobsFinishedBefore, 'jobsFinishedBefore')).toISOString();
    const deletedBefore = query.deletedBefore === undefined ? undefined : new Date(toMs(query.deletedBefore, 'deletedBefore')).toISOString();
    this.guard('housekeeping', () => {
      this.db
        .transaction(() => {
          if (jobsBefore !== undefined) out.jobs += s.trimJobsBefore.run(jobsBefore).changes;
          if (query.jobsMax !== undefined) out.jobs += s.trimJobsOver.run(query.jobsMax).changes;
        })
        .immediate();
      // Backups in batches, one short transaction each, so the API and worker are never
      // blocked for long by a first run over a large catalog.
      if (deletedBefore !== undefined) {
        for (;;) {
          const n = this.db.transaction(() => s.trimDeletedBackups.run({ before: deletedBefore }).changes).immediate();
          out.backups += n;
          if (n < 5000) break;
        }
      }
    });
    return out;
  }

  /** Newest backup of the database that still has at least one live copy, or null. */
  async latestBackup(databaseId: string): Promise<BackupRecord | null> {
    return this.guard(`latest backup of ${databaseId}`, () => {
      const row = this.s.latest.get(databaseId);
      return row ? this.toRecords([row])[0]! : null;
    });
  }

  async storageUsage(query: { databaseId?: string } = {}): Promise<StorageUsage[]> {
    return this.guard('storage usage', () =>
      (query.databaseId === undefined ? this.s.usageAll.all() : this.s.usageOf.all(query.databaseId)).map((r) => ({
        databaseId: r.database_id,
        target: r.target,
        backups: r.backups,
        bytes: r.bytes,
        firstCopyAt: r.first_ms === null ? null : new Date(r.first_ms).toISOString(),
      })),
    );
  }

  /** `EXPLAIN QUERY PLAN` of `storageUsage(query)`, for tests. */
  explainStorageUsage(query: { databaseId?: string } = {}): string[] {
    const st = query.databaseId === undefined ? this.s.usageAll : this.s.usageOf;
    const args = query.databaseId === undefined ? [] : [query.databaseId];
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${st.source}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail);
  }

  async upsertSchedule(sch: Omit<ScheduleRecord, 'updatedAt'>): Promise<ScheduleRecord> {
    checkSchedule(sch);
    const rec: ScheduleRecord = {
      databaseId: sch.databaseId,
      scheduleId: sch.scheduleId,
      job: sch.job,
      cron: sch.cron,
      timezone: sch.timezone,
      paused: sch.paused,
      origin: sch.origin,
      updatedAt: this.now().toISOString(),
    };
    this.guard(`save schedule ${sch.databaseId}:${sch.scheduleId}`, () => this.s.upsertSchedule.run({ ...rec, paused: rec.paused ? 1 : 0 }));
    return rec;
  }

  async listSchedules(databaseId?: string): Promise<ScheduleRecord[]> {
    return this.guard('list schedules', () =>
      (databaseId === undefined ? this.s.listSchedules.all() : this.s.listSchedulesOf.all(databaseId)).map(scheduleFromRow),
    );
  }

  async getSchedule(databaseId: string, scheduleId: string): Promise<ScheduleRecord | null> {
    return this.guard(`get schedule ${databaseId}:${scheduleId}`, () => {
      const row = this.s.getSchedule.get(databaseId, scheduleId);
      return row ? scheduleFromRow(row) : null;
    });
  }

  async deleteSchedule(databaseId: string, scheduleId: string): Promise<boolean> {
    return this.guard(`delete schedule ${databaseId}:${scheduleId}`, () => this.s.deleteSchedule.run(databaseId, scheduleId).changes > 0);
  }

  /** Insert or replace (by queue + jobId: a retried job keeps its final outcome). */
  async recordJob(job: JobHistoryRecord): Promise<void> {
    if (job.state !== 'completed' && job.state !== 'failed') throw new CatalogInvalidRecordError('job.state: must be completed or failed');
    let result: string | null;
    try {
      result = job.result === undefined ? null : (JSON.stringify(job.result) ?? null);
    } catch {
      throw new CatalogInvalidRecordError('job.result: not JSON-serializable');
    }
    this.guard(`record job ${job.queue}/${job.jobId}`, () =>
      this.s.upsertJob.run({
        queue: job.queue,
        jobId: job.jobId,
        name: job.name,
        databaseId: job.databaseId,
        state: job.state,
        attempts: job.attempts,
        startedAt: job.startedAt,
        finishedAt: job.finishedAt,
        error: job.error,
        result,
        lockAcquiredAt: job.lockAcquiredAt ?? null,
        lockReleasedAt: job.lockReleasedAt ?? null,
      }),
    );
  }

  /** Newest finished first; limit 1-500, default 50. */
  async listJobs(query: { databaseId?: string; limit?: number }): Promise<JobHistoryRecord[]> {
    const limit = checkLimit(query.limit);
    return this.guard('list jobs', () =>
      (query.databaseId === undefined ? this.s.listJobs.all(limit) : this.s.listJobsOf.all(query.databaseId, limit)).map(jobFromRow),
    );
  }

  async recordDrill(d: DrillOutcome): Promise<DrillRecord> {
    if (!d.databaseId || !d.target) throw new CatalogInvalidRecordError('drill: databaseId and target are required');
    if (d.outcome !== 'ok' && d.outcome !== 'failed') throw new CatalogInvalidRecordError('drill.outcome: must be ok or failed');
    const at = isoOrNow(d.at, this.now, 'drill.at');
    return this.guard(`record restore drill ${d.databaseId}:${d.target}`, () => {
      this.s.upsertDrill.run({
        databaseId: d.databaseId,
        target: d.target,
        at,
        outcome: d.outcome,
        backupId: d.backupId,
        errorCode: d.outcome === 'ok' ? null : (d.errorCode ?? null),
        error: d.outcome === 'ok' ? null : (d.error ?? null),
      });
      return drillFromRow(this.s.getDrill.get(d.databaseId, d.target)!);
    });
  }

  async listDrills(databaseId?: string): Promise<DrillRecord[]> {
    return this.guard('list restore drills', () =>
      (databaseId === undefined ? this.s.listDrills.all() : this.s.listDrillsOf.all(databaseId)).map(drillFromRow),
    );
  }

  async keyUsage(): Promise<KeyUsage[]> {
    return this.guard('key usage', () =>
      this.s.keyUsage.all().map((r) => ({
        keyId: r.key_id,
        backups: r.n,
        examples: this.s.keyExamples.all(r.key_id).map((e) => ({ databaseId: e.database_id, backupId: e.backup_id })),
      })),
    );
  }

  async configKeyIds(): Promise<string[]> {
    return this.guard('read config key ids', () => this.s.configKeyIds.all().map((r) => r.key_id));
  }

  async setConfigKeyIds(keyIds: readonly string[]): Promise<void> {
    const at = this.now().toISOString();
    const s = this.s;
    this.guard('save config key ids', () =>
      this.db
        .transaction(() => {
          s.clearConfigKeys.run();
          for (const id of new Set(keyIds)) s.addConfigKey.run(id, at);
        })
        .immediate(),
    );
  }

  async healthSummary(databaseIds: readonly string[], opts: { backupJobs: number; verify: boolean }): Promise<Map<string, HealthSummary>> {
    const k = Math.max(1, Math.min(MAX_LIMIT, Math.floor(opts.backupJobs)));
    return this.guard('health summary', () => {
      const out = new Map<string, HealthSummary>();
      for (const id of databaseIds) {
        const last = this.s.latestCreated.get(id);
        out.set(id, {
          lastBackupAt: last ? new Date(last.created_ms).toISOString() : null,
          backupJobs: this.s.lastBackupJobs.all(id, k).map((r) => ({ state: r.state, finishedAt: r.finished_at, error: r.error })),
          lastVerifiedAt: opts.verify ? (this.s.lastVerified.get(id)?.finished_at ?? null) : null,
        });
      }
      return out;
    });
  }

  async getJob(jobId: string): Promise<JobHistoryRecord | null> {
    return this.guard(`get job ${jobId}`, () => {
      const row = this.s.getJob.get(jobId);
      return row ? jobFromRow(row) : null;
    });
  }
}



/**
 * Open (creating 0600 in a 0700 directory if needed) the SQLite catalog at `file` and apply
 * pending migrations (unless `opts.migrate === false`).
 */
export async function openCatalog(file: string, opts: OpenCatalogOptions = {}): Promise<SqliteCatalog> {
  const c = new SqliteCatalog(file, opts);
  if (opts.migrate !== false) {
    try {
      await c.migrate();
    } catch (err) {
      await c.close();
      throw err;
    }
  }
  return c;
}
