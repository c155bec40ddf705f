import pg from 'pg';
import { redactUrl } from '@mfb/errors';
import type { Manifest } from '@mfb/backup';
import type {
  BackupQuery,
  BackupRecord,
  BeginDeletesResult,
  Catalog,
  CopyRef,
  DeletingCopy,
  DrillOutcome,
  DrillRecord,
  HealthSummary,
  HousekeepingQuery,
  HousekeepingResult,
  JobHistoryRecord,
  KeyUsage,
  NewLocation,
  Page,
  ScheduleRecord,
  StorageUsage,
} from './types.js';
import { CatalogBackupDeletingError, CatalogBusyError, CatalogInvalidQueryError, CatalogInvalidRecordError, CatalogIoError, CatalogNotFoundError, CatalogSchemaTooNewError } from './errors.js';
import { AppError } from '@mfb/errors';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './postgres.migrations.js';
import { checkLimit, checkLocation, checkManifest, checkSchedule, decodeCursor, drillFromRow, encodeCursor, isoOrNow, locationRow, toMs, type DrillRow, MAX_LIMIT, jobFromRow, scheduleFromRow, type JobRow, type ScheduleRow, recordsFromRows, type BackupRow, type LocationRow } from './records.js';

// BIGINT (ms timestamps, byte sizes) as numbers: every value we store is below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface OpenPostgresCatalogOptions {
  /** Apply pending migrations while opening (default true). */
  migrate?: boolean;
  /**
   * Schema (namespace) holding the catalog's tables; created if missing. Default `mfb`. Lets
   * several deployments, or tests, share one database.
   */
  schema?: string;
  /** Connections in the pool. Default 5. */
  poolSize?: number;
  /** Clock for `updatedAt` / default timestamps (tests). */
  now?: () => Date;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Map a `pg` error to a catalog error (connection problems and lock conflicts are transient). */
function mapPgError(operation: string, err: unknown): Error {
  if (err instanceof AppError) return err;
  const code = (err as { code?: string } | undefined)?.code ?? '';
  // serialization_failure, deadlock_detected, lock_not_available, query_canceled (lock_timeout)
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '57014') return new CatalogBusyError(operation, err);
  return new CatalogIoError(operation, err);
}

interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}





const BACKUP_COLS = 'b.backup_id, b.database_id, b.created_ms, b.size_bytes, b.pinned, b.manifest';

/**
 * The PostgreSQL catalog (`catalog.url: postgres://...`), for several API and worker processes
 * on several hosts. Same contract and the same answers as the SQLite catalog (one conformance
 * suite runs against both); writes that must not interleave take row locks (`FOR UPDATE`) in
 * one transaction, where SQLite takes its single write lock.
 */
export class PostgresCatalog implements Catalog {
  private readonly pool: pg.Pool;
  private readonly now: () => Date;
  readonly schema: string;
  /** Where the catalog is, for messages (credentials removed). */
  readonly location: string;

  constructor(url: string, opts: OpenPostgresCatalogOptions = {}) {
    this.schema = opts.schema ?? 'mfb';
    if (!SCHEMA_NAME.test(this.schema)) throw new CatalogInvalidRecordError(`catalog schema "${this.schema}": lower-case letters, digits and _ only`);
    this.now = opts.now ?? (() => new Date());
    this.location = `${redactUrl(url)} (schema ${this.schema})`;
    // synchronous_commit=off: the durability of the SQLite catalog (synchronous=NORMAL): a
    // server crash may lose the last commits, never corrupt; storage is the source of truth and
    // `catalog rebuild` restores them. A commit then costs no WAL flush (~10x the write rate).
    this.pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 5, options: `-c search_path=${this.schema} -c synchronous_commit=off` });
    // An idle connection that the server drops must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  private async q<R extends pg.QueryResultRow>(op: string, text: string, values: unknown[] = [], on: Queryable = this.pool): Promise<R[]> {
    try {
      return (await on.query<R>(text, values)).rows;
    } catch (err) {
      throw mapPgError(op, err);
    }
  }

  /** Run `fn` in one transaction on one connection; rolled back if it throws. */
  private async tx<T>(op: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapPgError(op, err);
    }
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw mapPgError(op, err);
    } finally {
      client.release();
    }
  }

  /** Applied schema version (0 = empty schema). */
  async schemaVersion(): Promise<number> {
    const rows = await this.q<{ v: number | null }>(
      'read schema version',
      `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END AS v`,
    );
    return Number(rows[0]?.v ?? 0);
  }

  async migrate(): Promise<void> {
    await this.tx(`migrate catalog ${this.location}`, async (c) => {
      // Processes starting together (API and workers on several hosts) take turns here.
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('mfb-catalog-migrate:' || $1))`, [this.schema]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
      const current = Number((await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations')).rows[0]?.v ?? 0);
      if (current > PG_SCHEMA_VERSION) throw new CatalogSchemaTooNewError(this.location, current, PG_SCHEMA_VERSION);
      for (const m of PG_MIGRATIONS) {
        if (m.version <= current) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, this.now().toISOString()]);
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  /** Keep `live_count` equal to the live copies of `backupId` (in the caller's transaction). */
  private async refreshLive(c: Queryable, backupId: string): Promise<void> {
    await c.query(
      `UPDATE backups SET live_count = (SELECT count(*) FROM backup_locations WHERE backup_id = $1 AND deleted_at IS NULL) WHERE backup_id = $1`,
      [backupId],
    );
  }

  private async upsertLocation(c: Queryable, r: ReturnType<typeof locationRow>): Promise<void> {
    await c.query(
      `INSERT INTO backup_locations AS l (backup_id, target, artifact_key, stored_at, deleted_at, database_id, created_ms, storage_class)
       VALUES ($1, $2, $3, $4, NULL, $5, $6, $7)
       ON CONFLICT (backup_id, target) DO UPDATE SET artifact_key = excluded.artifact_key,
         storage_class = COALESCE(excluded.storage_class, l.storage_class),
         stored_at = CASE WHEN l.deleted_at IS NULL THEN l.stored_at ELSE excluded.stored_at END,
         deleted_at = NULL, deleting_at = NULL`,
      [r.backupId, r.target, r.artifactKey, r.storedAt, r.databaseId, r.createdMs, r.storageClass],
    );
    await this.refreshLive(c, r.backupId);
  }

  private async brief(c: Queryable, backupId: string): Promise<{ database_id: string; created_ms: number } | undefined> {
    return (await c.query<{ database_id: string; created_ms: number }>('SELECT database_id, created_ms FROM backups WHERE backup_id = $1 FOR UPDATE', [backupId])).rows[0];
  }

  async recordBackup(manifest: Manifest, location: NewLocation): Promise<void> {
    const createdMs = checkManifest(manifest);
    checkLocation(location);
    const storedAt = isoOrNow(location.storedAt, this.now, 'location.storedAt');
    await this.tx(`record backup ${manifest.backupId}`, async (c) => {
      await c.query(
        `INSERT INTO backups (backup_id, database_id, created_ms, size_bytes, pinned, manifest) VALUES ($1, $2, $3, $4, false, $5)
         ON CONFLICT (backup_id) DO NOTHING`,
        [manifest.backupId, manifest.databaseId, createdMs, manifest.artifact.sizeBytes, JSON.stringify(manifest)],
      );
      const b = (await this.brief(c, manifest.backupId))!;
      await this.upsertLocation(c, locationRow(manifest.backupId, location, storedAt, b));
    });
  }

  async addLocation(backupId: string, location: NewLocation): Promise<void> {
    checkLocation(location);
    const storedAt = isoOrNow(location.storedAt, this.now, 'location.storedAt');
    await this.tx(`add location ${location.target} to backup ${backupId}`, async (c) => {
      const b = await this.brief(c, backupId);
      if (!b) throw new CatalogNotFoundError(`backup ${backupId}`);
      await this.upsertLocation(c, locationRow(backupId, location, storedAt, b));
    });
  }

  async markLocationDeleted(backupId: string, target: string, at?: string): Promise<void> {
    const when = isoOrNow(at, this.now, 'at');
    await this.tx(`mark ${target} copy of backup ${backupId} deleted`, async (c) => {
      if (!(await this.brief(c, backupId))) throw new CatalogNotFoundError(`backup ${backupId}`);
      const exists = await c.query('SELECT 1 FROM backup_locations WHERE backup_id = $1 AND target = $2', [backupId, target]);
      if (exists.rowCount === 0) throw new CatalogNotFoundError(`copy of backup ${backupId} on target ${target}`);
      await c.query('UPDATE backup_locations SET deleted_at = $1, deleting_at = NULL WHERE backup_id = $2 AND target = $3 AND deleted_at IS NULL', [when, backupId, target]);
      await this.refreshLive(c, backupId);
    });
  }

  private async toRecords(rows: BackupRow[]): Promise<BackupRecord[]> {
    if (rows.length === 0) return [];
    const locs = await this.q<LocationRow>(
      'read backup locations',
      `SELECT backup_id, target, artifact_key, stored_at, deleted_at, storage_class FROM backup_locations
       WHERE backup_id = ANY($1::text[]) ORDER BY stored_at, target`,
      [rows.map((r) => r.backup_id)],
    );
    return recordsFromRows(rows, locs);
  }

  async getBackup(backupId: string): Promise<BackupRecord | null> {
    const rows = await this.q<BackupRow>(`get backup ${backupId}`, `SELECT ${BACKUP_COLS} FROM backups b WHERE b.backup_id = $1`, [backupId]);
    return rows[0] ? (await this.toRecords(rows))[0]! : null;
  }

  /** SQL for `listBackups` (the same filters and order as the SQLite catalog); `null` when nothing can match. */
  private buildListQuery(query: BackupQuery): { sql: string; values: unknown[]; limit: number } | null {
    const limit = checkLimit(query.limit);
    if (query.status !== undefined && query.status !== 'available' && query.status !== 'deleted') {
      throw new CatalogInvalidRecordError(`status: must be available or deleted, got ${JSON.stringify(query.status)}`);
    }
    const values: unknown[] = [];
    const v = (x: unknown): string => {
      values.push(x);
      return `$${values.length}`;
    };
    const where: string[] = [];
    const byTarget = query.target !== undefined;
    const t = byTarget ? 'l' : 'b';
    if (byTarget) {
      if (query.status === 'deleted') return null;
      where.push(`l.target = ${v(query.target)}`, 'l.deleted_at IS NULL');
    } else if (query.status === 'available') {
      where.push('b.live_count > 0');
    } else if (query.status === 'deleted') {
      where.push('b.live_count = 0');
    }
    if (query.databaseId !== undefined) where.push(`${t}.database_id = ${v(query.databaseId)}`);
    if (query.createdAfter !== undefined) where.push(`${t}.created_ms > ${v(toMs(query.createdAfter, 'createdAfter'))}`);
    if (query.createdBefore !== undefined) where.push(`${t}.created_ms < ${v(toMs(query.createdBefore, 'createdBefore'))}`);
    if (query.cursor !== undefined && query.cursor !== '') {
      const c = decodeCursor(query.cursor);
      where.push(`(${t}.created_ms, ${t}.backup_id) < (${v(c.t)}, ${v(c.id)})`);
    }
    const from = byTarget ? 'backup_locations l JOIN backups b ON b.backup_id = l.backup_id' : 'backups b';
    const sql =
      `SELECT ${BACKUP_COLS} FROM ${from}` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY ${t}.created_ms DESC, ${t}.backup_id DESC LIMIT ${v(limit + 1)}`;
    return { sql, values, limit };
  }

  async listBackups(query: BackupQuery): Promise<Page<BackupRecord>> {
    const q = this.buildListQuery(query);
    if (!q) return { items: [], nextCursor: null };
    const rows = await this.q<BackupRow>('list backups', q.sql, q.values);
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    const last = page[page.length - 1];
    return { items: await this.toRecords(page), nextCursor: more && last ? encodeCursor(last.created_ms, last.backup_id) : null };
  }

  /** `EXPLAIN` of `listBackups(query)`, for tests and the benchmark. */
  async explainListBackups(query: BackupQuery): Promise<string[]> {
    const q = this.buildListQuery(query);
    if (!q) return [];
    return (await this.q<{ 'QUERY PLAN': string }>('explain', `EXPLAIN ${q.sql}`, q.values)).map((r) => r['QUERY PLAN']);
  }

  async setPinned(backupId: string, pinned: boolean): Promise<void> {
    await this.tx(`pin backup ${backupId}`, async (c) => {
      // The backups row lock orders this against `beginCopyDeletes` (which takes it too).
      const st = (await c.query<{ live_count: number; database_id: string }>('SELECT live_count, database_id FROM backups WHERE backup_id = $1 FOR UPDATE', [backupId])).rows[0];
      if (!st) throw new CatalogNotFoundError(`backup ${backupId}`);
      // Pins and deletion starts of one database take turns (chains span rows: a pinned delta
      // protects its ancestors), as SQLite's IMMEDIATE transactions do.
      if (pinned) await c.query(`SELECT pg_advisory_xact_lock(hashtext('mfb-pin-delete:' || $1))`, [st.database_id]);
      if (pinned) {
        const deleting = await c.query('SELECT 1 FROM backup_locations WHERE backup_id = $1 AND deleted_at IS NULL AND deleting_at IS NOT NULL', [backupId]);
        const ancestor = await c.query(
          `WITH RECURSIVE anc(id) AS (
             SELECT manifest::jsonb ->> 'parentId' FROM backups WHERE backup_id = $1 AND manifest::jsonb ->> 'parentId' IS NOT NULL
             UNION
             SELECT b.manifest::jsonb ->> 'parentId' FROM backups b JOIN anc ON b.backup_id = anc.id WHERE b.manifest::jsonb ->> 'parentId' IS NOT NULL
           ) SELECT anc.id FROM anc JOIN backup_locations l ON l.backup_id = anc.id WHERE l.deleted_at IS NULL AND l.deleting_at IS NOT NULL LIMIT 1`,
          [backupId],
        );
        if ((deleting.rowCount ?? 0) > 0 || Number(st.live_count) === 0 || (ancestor.rowCount ?? 0) > 0) throw new CatalogBackupDeletingError(backupId);
      }
      await c.query('UPDATE backups SET pinned = $1 WHERE backup_id = $2', [pinned, backupId]);
    });
  }

  async beginCopyDeletes(copies: readonly CopyRef[], at?: string): Promise<BeginDeletesResult> {
    const when = isoOrNow(at, this.now, 'at');
    return this.tx(`begin deleting ${copies.length} copies`, async (c) => {
      const out: BeginDeletesResult = { started: [], pinned: [], gone: [] };
      const dbs = (await c.query<{ database_id: string }>('SELECT DISTINCT database_id FROM backups WHERE backup_id = ANY($1::text[]) ORDER BY database_id', [copies.map((x) => x.backupId)])).rows;
      for (const d of dbs) await c.query(`SELECT pg_advisory_xact_lock(hashtext('mfb-pin-delete:' || $1))`, [d.database_id]);
      // Ancestors of pinned deltas (a pinned delta needs its whole chain), per database.
      const needed = new Map<string, Set<string>>();
      const neededBy = async (databaseId: string): Promise<Set<string>> => {
        let set = needed.get(databaseId);
        if (!set) {
          const rows = await c.query<{ id: string }>(
            `WITH RECURSIVE anc(id) AS (
               SELECT manifest::jsonb ->> 'parentId' FROM backups WHERE database_id = $1 AND pinned AND manifest::jsonb ->> 'parentId' IS NOT NULL
               UNION
               SELECT b.manifest::jsonb ->> 'parentId' FROM backups b JOIN anc ON b.backup_id = anc.id WHERE b.manifest::jsonb ->> 'parentId' IS NOT NULL
             ) SELECT id FROM anc`,
            [databaseId],
          );
          needed.set(databaseId, (set = new Set(rows.rows.map((r) => r.id))));
        }
        return set;
      };
      for (const x of copies) {
        const b = (await c.query<{ pinned: boolean }>('SELECT pinned FROM backups WHERE backup_id = $1 FOR UPDATE', [x.backupId])).rows[0];
        const l = b
          ? (await c.query<{ database_id: string; artifact_key: string; deleting_at: string | null }>(
              'SELECT database_id, artifact_key, deleting_at FROM backup_locations WHERE backup_id = $1 AND target = $2 AND deleted_at IS NULL',
              [x.backupId, x.target],
            )).rows[0]
          : undefined;
        if (!b || !l) out.gone.push({ backupId: x.backupId, target: x.target });
        else if (l.deleting_at === null && (b.pinned || (await neededBy(l.database_id)).has(x.backupId))) out.pinned.push({ backupId: x.backupId, target: x.target });
        else {
          if (l.deleting_at === null) await c.query('UPDATE backup_locations SET deleting_at = $1 WHERE backup_id = $2 AND target = $3', [when, x.backupId, x.target]);
          out.started.push({ backupId: x.backupId, target: x.target, databaseId: l.database_id, artifactKey: l.artifact_key, deletingAt: l.deleting_at ?? when });
        }
      }
      return out;
    });
  }

  async markLocationsDeleted(copies: readonly CopyRef[], at?: string): Promise<void> {
    const when = isoOrNow(at, this.now, 'at');
    await this.tx(`mark ${copies.length} copies deleted`, async (c) => {
      for (const x of copies) {
        const r = await c.query('UPDATE backup_locations SET deleted_at = $1, deleting_at = NULL WHERE backup_id = $2 AND target = $3 AND deleted_at IS NULL', [when, x.backupId, x.target]);
        if ((r.rowCount ?? 0) > 0) await this.refreshLive(c, x.backupId);
      }
    });
  }

  async listDeletingCopies(query: { databaseId?: string; target?: string } = {}): Promise<DeletingCopy[]> {
    const rows = await this.q<{ backup_id: string; database_id: string; target: string; artifact_key: string; deleting_at: string }>(
      'list copies being deleted',
      `SELECT backup_id, database_id, target, artifact_key, deleting_at FROM backup_locations
       WHERE deleting_at IS NOT NULL AND deleted_at IS NULL AND ($1::text IS NULL OR database_id = $1) AND ($2::text IS NULL OR target = $2)
       ORDER BY deleting_at, backup_id, target`,
      [query.databaseId ?? null, query.target ?? null],
    );
    return rows.map((r) => ({ backupId: r.backup_id, databaseId: r.database_id, target: r.target, artifactKey: r.artifact_key, deletingAt: r.deleting_at }));
  }

  async housekeep(query: HousekeepingQuery): Promise<HousekeepingResult> {
    if (query.jobsMax !== undefined && (!Number.isInteger(query.jobsMax) || query.jobsMax < 0)) {
      throw new CatalogInvalidQueryError(`jobsMax: must be an integer >= 0, got ${String(query.jobsMax)}`);
    }
    const jobsBefore = query.jobsFinishedBefore === undefined ? undefined : new Date(toMs(query.jobsFinishedBefore, 'jobsFinishedBefore')).toISOString();
    const deletedBefore = query.deletedBefore === undefined ? undefined : new Date(toMs(query.deletedBefore, 'deletedBefore')).toISOString();
    const out: HousekeepingResult = { jobs: 0, backups: 0 };
    await this.tx('housekeeping', async (c) => {
      if (jobsBefore !== undefined) out.jobs += (await c.query('DELETE FROM job_history WHERE finished_at < $1', [jobsBefore])).rowCount ?? 0;
      if (query.jobsMax !== undefined) {
        out.jobs +=
          (await c.query('DELETE FROM job_history WHERE (queue, job_id) IN (SELECT queue, job_id FROM job_history ORDER BY finished_at DESC, job_id DESC OFFSET $1)', [query.jobsMax]))
            .rowCount ?? 0;
      }
      if (deletedBefore !== undefined) {
        out.backups +=
          (
            await c.query(
              `DELETE FROM backups b WHERE b.live_count = 0 AND NOT b.pinned
                 AND NOT EXISTS (SELECT 1 FROM backup_locations l WHERE l.backup_id = b.backup_id AND (l.deleted_at IS NULL OR l.deleted_at >= $1))
                 AND NOT EXISTS (SELECT 1 FROM backup_locations l WHERE l.backup_id = b.backup_id
                       AND l.created_ms = (SELECT min(m.created_ms) FROM backup_locations m WHERE m.database_id = l.database_id AND m.target = l.target))`,
              [deletedBefore],
            )
          ).rowCount ?? 0;
      }
    });
    return out;
  }

  async latestBackup(databaseId: string): Promise<BackupRecord | null> {
    const rows = await this.q<BackupRow>(
      `latest backup of ${databaseId}`,
      `SELECT ${BACKUP_COLS} FROM backups b WHERE b.database_id = $1 AND b.live_count > 0 ORDER BY b.created_ms DESC, b.backup_id DESC LIMIT 1`,
      [databaseId],
    );
    return rows[0] ? (await this.toRecords(rows))[0]! : null;
  }

  async storageUsage(query: { databaseId?: string } = {}): Promise<StorageUsage[]> {
    const where = query.databaseId === undefined ? '' : 'WHERE l.database_id = $1';
    const rows = await this.q<{ database_id: string; target: string; backups: number; bytes: number; first_ms: number | null }>(
      'storage usage',
      `SELECT l.database_id, l.target,
              count(*) FILTER (WHERE l.deleted_at IS NULL)::bigint AS backups,
              coalesce(sum(b.size_bytes) FILTER (WHERE l.deleted_at IS NULL), 0)::bigint AS bytes,
              min(l.created_ms) AS first_ms
       FROM backup_locations l JOIN backups b ON b.backup_id = l.backup_id
       ${where}
       GROUP BY l.database_id, l.target ORDER BY l.database_id, l.target`,
      query.databaseId === undefined ? [] : [query.databaseId],
    );
    return rows.map((r) => ({
      databaseId: r.database_id,
      target: r.target,
      backups: Number(r.backups),
      bytes: Number(r.bytes),
      firstCopyAt: r.first_ms === null ? null : new Date(Number(r.first_ms)).toISOString(),
    }));
  }

  async upsertSchedule(sch: Omit<ScheduleRecord, 'updatedAt'>): Promise<ScheduleRecord> {
    checkSchedule(sch);
    const rec: ScheduleRecord = { ...pickSchedule(sch), updatedAt: this.now().toISOString() };
    await this.q(
      `save schedule ${sch.databaseId}:${sch.scheduleId}`,
      `INSERT INTO schedules (database_id, schedule_id, job, cron, timezone, paused, origin, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (database_id, schedule_id) DO UPDATE SET job = excluded.job, cron = excluded.cron, timezone = excluded.timezone,
         paused = excluded.paused, origin = excluded.origin, updated_at = excluded.updated_at`,
      [rec.databaseId, rec.scheduleId, rec.job, rec.cron, rec.timezone, rec.paused, rec.origin, rec.updatedAt],
    );
    return rec;
  }

  async listSchedules(databaseId?: string): Promise<ScheduleRecord[]> {
    const rows =
      databaseId === undefined
        ? await this.q<ScheduleRow>('list schedules', 'SELECT * FROM schedules ORDER BY database_id, schedule_id')
        : await this.q<ScheduleRow>('list schedules', 'SELECT * FROM schedules WHERE database_id = $1 ORDER BY schedule_id', [databaseId]);
    return rows.map(scheduleFromRow);
  }

  async getSchedule(databaseId: string, scheduleId: string): Promise<ScheduleRecord | null> {
    const rows = await this.q<ScheduleRow>(`get schedule ${databaseId}:${scheduleId}`, 'SELECT * FROM schedules WHERE database_id = $1 AND schedule_id = $2', [
      databaseId,
      scheduleId,
    ]);
    return rows[0] ? scheduleFromRow(rows[0]) : null;
  }

  async deleteSchedule(databaseId: string, scheduleId: string): Promise<boolean> {
    const rows = await this.q(`delete schedule ${databaseId}:${scheduleId}`, 'DELETE FROM schedules WHERE database_id = $1 AND schedule_id = $2 RETURNING 1', [
      databaseId,
      scheduleId,
    ]);
    return rows.length > 0;
  }

  async recordJob(job: JobHistoryRecord): Promise<void> {
    if (job.state !== 'completed' && job.state !== 'failed') throw new CatalogInvalidRecordError('job.state: must be completed or failed');
    let result: string | null;
    try {
      result = job.result === undefined ? null : (JSON.stringify(job.result) ?? null);
    } catch {
      throw new CatalogInvalidRecordError('job.result: not JSON-serializable');
    }
    await this.q(
      `record job ${job.queue}/${job.jobId}`,
      `INSERT INTO job_history (queue, job_id, name, database_id, state, attempts, started_at, finished_at, error, result, lock_acquired_at, lock_released_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (queue, job_id) DO UPDATE SET name = excluded.name, database_id = excluded.database_id, state = excluded.state,
         attempts = excluded.attempts, started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error, result = excluded.result,
         lock_acquired_at = excluded.lock_acquired_at, lock_released_at = excluded.lock_released_at`,
      [job.queue, job.jobId, job.name, job.databaseId, job.state, job.attempts, job.startedAt, job.finishedAt, job.error, result, job.lockAcquiredAt ?? null, job.lockReleasedAt ?? null],
    );
  }

  async listJobs(query: { databaseId?: string; limit?: number }): Promise<JobHistoryRecord[]> {
    const limit = checkLimit(query.limit);
    const rows =
      query.databaseId === undefined
        ? await this.q<JobRow>('list jobs', 'SELECT * FROM job_history ORDER BY finished_at DESC, job_id DESC LIMIT $1', [limit])
        : await this.q<JobRow>('list jobs', 'SELECT * FROM job_history WHERE database_id = $1 ORDER BY finished_at DESC, job_id DESC LIMIT $2', [query.databaseId, limit]);
    return rows.map(jobFromRow);
  }

  async healthSummary(databaseIds: readonly string[], opts: { backupJobs: number; verify: boolean }): Promise<Map<string, HealthSummary>> {
    const k = Math.max(1, Math.min(MAX_LIMIT, Math.floor(opts.backupJobs)));
    const ids = [...databaseIds];
    const out = new Map<string, HealthSummary>(ids.map((id) => [id, { lastBackupAt: null, backupJobs: [], lastVerifiedAt: null }]));
    if (ids.length === 0) return out;
    const [latest, jobs, verified] = await Promise.all([
      this.q<{ database_id: string; created_ms: number }>(
        'health summary (backups)',
        `SELECT DISTINCT ON (database_id) database_id, created_ms FROM backups
         WHERE database_id = ANY($1) AND live_count > 0 ORDER BY database_id, created_ms DESC, backup_id DESC`,
        [ids],
      ),
      this.q<{ database_id: string; state: 'completed' | 'failed'; finished_at: string; error: string | null }>(
        'health summary (jobs)',
        `SELECT database_id, state, finished_at, error FROM (
           SELECT database_id, state, finished_at, error, row_number() OVER (PARTITION BY database_id ORDER BY finished_at DESC) AS rn
           FROM job_history WHERE database_id = ANY($1) AND name = 'backup') t
         WHERE rn <= $2 ORDER BY database_id, finished_at DESC`,
        [ids, k],
      ),
      opts.verify
        ? this.q<{ database_id: string; finished_at: string }>(
            'health summary (verifies)',
            `SELECT database_id, max(finished_at) AS finished_at FROM job_history
             WHERE database_id = ANY($1) AND name = 'verify' AND state = 'completed' GROUP BY database_id`,
            [ids],
          )
        : Promise.resolve([]),
    ]);
    for (const r of latest) out.get(r.database_id)!.lastBackupAt = new Date(r.created_ms).toISOString();
    for (const r of jobs) out.get(r.database_id)!.backupJobs.push({ state: r.state, finishedAt: r.finished_at, error: r.error });
    for (const r of verified) out.get(r.database_id)!.lastVerifiedAt = r.finished_at;
    return out;
  }

  async getJob(jobId: string): Promise<JobHistoryRecord | null> {
    const rows = await this.q<JobRow>(`get job ${jobId}`, 'SELECT * FROM job_history WHERE job_id = $1 ORDER BY finished_at DESC, queue LIMIT 1', [jobId]);
    return rows[0] ? jobFromRow(rows[0]) : null;
  }

  async recordDrill(d: DrillOutcome): Promise<DrillRecord> {
    if (!d.databaseId || !d.target) throw new CatalogInvalidRecordError('drill: databaseId and target are required');
    if (d.outcome !== 'ok' && d.outcome !== 'failed') throw new CatalogInvalidRecordError('drill.outcome: must be ok or failed');
    const at = isoOrNow(d.at, this.now, 'drill.at');
    const ok = d.outcome === 'ok';
    const rows = await this.q<DrillRow>(
      `record restore drill ${d.databaseId}:${d.target}`,
      `INSERT INTO restore_drills (database_id, target, last_run_at, last_outcome, last_backup_id, last_error_code, last_error, last_ok_at, last_ok_backup_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (database_id, target) DO UPDATE SET last_run_at = excluded.last_run_at, last_outcome = excluded.last_outcome,
         last_backup_id = excluded.last_backup_id, last_error_code = excluded.last_error_code, last_error = excluded.last_error,
         last_ok_at = COALESCE(excluded.last_ok_at, restore_drills.last_ok_at),
         last_ok_backup_id = CASE WHEN excluded.last_ok_at IS NULL THEN restore_drills.last_ok_backup_id ELSE excluded.last_ok_backup_id END
       RETURNING *`,
      [d.databaseId, d.target, at, d.outcome, d.backupId, ok ? null : (d.errorCode ?? null), ok ? null : (d.error ?? null), ok ? at : null, ok ? d.backupId : null],
    );
    return drillFromRow(rows[0]!);
  }

  async listDrills(databaseId?: string): Promise<DrillRecord[]> {
    const rows =
      databaseId === undefined
        ? await this.q<DrillRow>('list restore drills', 'SELECT * FROM restore_drills ORDER BY database_id, target')
        : await this.q<DrillRow>('list restore drills', 'SELECT * FROM restore_drills WHERE database_id = $1 ORDER BY target', [databaseId]);
    return rows.map(drillFromRow);
  }

  async keyUsage(): Promise<KeyUsage[]> {
    const rows = await this.q<{ key_id: string; n: string | number }>(
      'key usage',
      `SELECT (manifest::jsonb -> 'encryption' ->> 'keyId') COLLATE "C" AS key_id, count(*) AS n FROM backups
       WHERE live_count > 0 AND (manifest::jsonb -> 'encryption' ->> 'keyId') IS NOT NULL GROUP BY 1 ORDER BY 1`,
    );
    const out: KeyUsage[] = [];
    for (const r of rows) {
      const ex = await this.q<{ database_id: string; backup_id: string }>(
        'key usage',
        `SELECT database_id, backup_id FROM backups WHERE live_count > 0 AND (manifest::jsonb -> 'encryption' ->> 'keyId') = $1
         ORDER BY created_ms DESC, backup_id DESC LIMIT 20`,
        [r.key_id],
      );
      out.push({ keyId: r.key_id, backups: Number(r.n), examples: ex.map((e) => ({ databaseId: e.database_id, backupId: e.backup_id })) });
    }
    return out;
  }

  async configKeyIds(): Promise<string[]> {
    return (await this.q<{ key_id: string }>('read config key ids', 'SELECT key_id FROM config_keys ORDER BY key_id')).map((r) => r.key_id);
  }

  async setConfigKeyIds(keyIds: readonly string[]): Promise<void> {
    const at = this.now().toISOString();
    await this.tx('save config key ids', async (c) => {
      await c.query('DELETE FROM config_keys');
      for (const id of new Set(keyIds)) await c.query('INSERT INTO config_keys (key_id, seen_at) VALUES ($1, $2)', [id, at]);
    });
  }
}

function pickSchedule(s: Omit<ScheduleRecord, 'updatedAt'>): Omit<ScheduleRecord, 'updatedAt'> {
  return { databaseId: s.databaseId, scheduleId: s.scheduleId, job: s.job, cron: s.cron, timezone: s.timezone, paused: s.paused, origin: s.origin };
}



/** Open the PostgreSQL catalog at `url` and apply pending migrations (unless `opts.migrate === false`). */
export async function openPostgresCatalog(url: string, opts: OpenPostgresCatalogOptions = {}): Promise<PostgresCatalog> {
  const c = new PostgresCatalog(url, opts);
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
