/**
 * Versioned schema migrations, applied in order by `migrate()`, each in its own
 * transaction, each recorded in `schema_migrations`. Never edit a released migration:
 * add a new one with the next version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'backups and their locations',
    sql: `
      CREATE TABLE backups (
        backup_id    TEXT PRIMARY KEY,
        database_id  TEXT NOT NULL,
        created_ms   INTEGER NOT NULL,
        size_bytes   INTEGER NOT NULL,
        pinned       INTEGER NOT NULL DEFAULT 0,
        -- number of locations with deleted_at IS NULL (kept in step by the catalog code)
        live_count   INTEGER NOT NULL DEFAULT 0,
        manifest     TEXT NOT NULL
      );
      -- newest-first keyset pagination: (created_ms, backup_id) descending
      CREATE INDEX backups_page ON backups (created_ms DESC, backup_id DESC);
      CREATE INDEX backups_db_page ON backups (database_id, created_ms DESC, backup_id DESC);
      CREATE INDEX backups_deleted_page ON backups (created_ms DESC, backup_id DESC) WHERE live_count = 0;
      CREATE INDEX backups_db_deleted_page ON backups (database_id, created_ms DESC, backup_id DESC) WHERE live_count = 0;

      CREATE TABLE backup_locations (
        backup_id    TEXT NOT NULL REFERENCES backups (backup_id) ON DELETE CASCADE,
        target       TEXT NOT NULL,
        artifact_key TEXT NOT NULL,
        stored_at    TEXT NOT NULL,
        deleted_at   TEXT,
        -- copies of backups columns so target queries page on one index
        database_id  TEXT NOT NULL,
        created_ms   INTEGER NOT NULL,
        PRIMARY KEY (backup_id, target)
      ) WITHOUT ROWID;
      CREATE INDEX locations_live_page ON backup_locations (target, created_ms DESC, backup_id DESC) WHERE deleted_at IS NULL;
      CREATE INDEX locations_db_live_page ON backup_locations (target, database_id, created_ms DESC, backup_id DESC) WHERE deleted_at IS NULL;

      CREATE TRIGGER locations_ai AFTER INSERT ON backup_locations BEGIN
        UPDATE backups SET live_count = (SELECT count(*) FROM backup_locations WHERE backup_id = NEW.backup_id AND deleted_at IS NULL)
        WHERE backup_id = NEW.backup_id;
      END;
      CREATE TRIGGER locations_au AFTER UPDATE ON backup_locations BEGIN
        UPDATE backups SET live_count = (SELECT count(*) FROM backup_locations WHERE backup_id = NEW.backup_id AND deleted_at IS NULL)
        WHERE backup_id = NEW.backup_id;
      END;
      CREATE TRIGGER locations_ad AFTER DELETE ON backup_locations BEGIN
        UPDATE backups SET live_count = (SELECT count(*) FROM backup_locations WHERE backup_id = OLD.backup_id AND deleted_at IS NULL)
        WHERE backup_id = OLD.backup_id;
      END;
    `,
  },
  {
    version: 2,
    name: 'schedules (desired state)',
    sql: `
      CREATE TABLE schedules (
        database_id TEXT NOT NULL,
        schedule_id TEXT NOT NULL,
        job         TEXT NOT NULL CHECK (job IN ('backup', 'verify', 'prune')),
        cron        TEXT NOT NULL,
        timezone    TEXT NOT NULL,
        paused      INTEGER NOT NULL DEFAULT 0,
        origin      TEXT NOT NULL CHECK (origin IN ('config', 'api')),
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (database_id, schedule_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'job history',
    sql: `
      CREATE TABLE job_history (
        queue       TEXT NOT NULL,
        job_id      TEXT NOT NULL,
        name        TEXT NOT NULL,
        database_id TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('completed', 'failed')),
        attempts    INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        error       TEXT,
        result      TEXT,
        PRIMARY KEY (queue, job_id)
      );
      CREATE INDEX job_history_finished ON job_history (finished_at DESC);
      CREATE INDEX job_history_db_finished ON job_history (database_id, finished_at DESC);
    `,
  },
  {
    version: 4,
    name: 'job history by job id',
    sql: `
      -- GET /v1/jobs/:id answers from the history once the queue forgot the job.
      CREATE INDEX job_history_job ON job_history (job_id, finished_at DESC);
    `,
  },
  {
    version: 5,
    name: 'storage usage per database and target',
    sql: `
      -- storageUsage(): copies per (database, target), deleted ones included (firstCopyAt)
      CREATE INDEX locations_db_target ON backup_locations (database_id, target, created_ms);
    `,
  },
  {
    version: 6,
    name: 'storage class of each copy',
    sql: `
      -- The provider storage class a copy was stored with (STANDARD_IA, NEARLINE, Cool, ...);
      -- NULL for file:// and for copies recorded before this column existed.
      ALTER TABLE backup_locations ADD COLUMN storage_class TEXT;
    `,
  },
  {
    version: 9,
    name: 'restore drills per database and target; key ids of the config',
    sql: `
      -- The last restore drill of each (database, target) and the last one that succeeded.
      CREATE TABLE restore_drills (
        database_id       TEXT NOT NULL,
        target            TEXT NOT NULL,
        last_run_at       TEXT NOT NULL,
        last_outcome      TEXT NOT NULL CHECK (last_outcome IN ('ok', 'failed')),
        last_backup_id    TEXT,
        last_error_code   TEXT,
        last_error        TEXT,
        last_ok_at        TEXT,
        last_ok_backup_id TEXT,
        PRIMARY KEY (database_id, target)
      ) WITHOUT ROWID;
      -- Key ids the config had at the last start that passed the key check: a key that
      -- disappears from the config while live backups need it is refused (KEY_STILL_IN_USE).
      CREATE TABLE config_keys (
        key_id  TEXT PRIMARY KEY,
        seen_at TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];

/** Highest schema version this program knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
