import type { Migration } from './migrations.js';

/**
 * Schema migrations of the PostgreSQL catalog: the same tables as the SQLite catalog's
 * migrations (migrations.ts), written for PostgreSQL once, at today's shape. `live_count` is
 * kept by the catalog code in the writing transaction (SQLite uses triggers). Identifiers
 * compare as bytes (`COLLATE "C"`) so keyset pages order exactly as SQLite's do. Never edit a
 * released migration: add one with the next version (and the matching SQLite migration).
 */
export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'backups, locations, schedules, job history (SQLite catalog schema 6)',
    sql: `
      CREATE TABLE backups (
        backup_id    TEXT COLLATE "C" PRIMARY KEY,
        database_id  TEXT COLLATE "C" NOT NULL,
        created_ms   BIGINT NOT NULL,
        size_bytes   BIGINT NOT NULL,
        pinned       BOOLEAN NOT NULL DEFAULT false,
        live_count   INTEGER NOT NULL DEFAULT 0,
        manifest     TEXT NOT NULL
      );
      CREATE INDEX backups_page ON backups (created_ms DESC, backup_id DESC);
      CREATE INDEX backups_db_page ON backups (database_id, created_ms DESC, backup_id DESC);
      CREATE INDEX backups_deleted_page ON backups (created_ms DESC, backup_id DESC) WHERE live_count = 0;
      CREATE INDEX backups_db_deleted_page ON backups (database_id, created_ms DESC, backup_id DESC) WHERE live_count = 0;

      CREATE TABLE backup_locations (
        backup_id     TEXT COLLATE "C" NOT NULL REFERENCES backups (backup_id) ON DELETE CASCADE,
        target        TEXT COLLATE "C" NOT NULL,
        artifact_key  TEXT NOT NULL,
        stored_at     TEXT NOT NULL,
        deleted_at    TEXT,
        database_id   TEXT COLLATE "C" NOT NULL,
        created_ms    BIGINT NOT NULL,
        storage_class TEXT,
        PRIMARY KEY (backup_id, target)
      );
      CREATE INDEX locations_live_page ON backup_locations (target, created_ms DESC, backup_id DESC) WHERE deleted_at IS NULL;
      CREATE INDEX locations_db_live_page ON backup_locations (target, database_id, created_ms DESC, backup_id DESC) WHERE deleted_at IS NULL;
      CREATE INDEX locations_db_target ON backup_locations (database_id, target, created_ms);

      CREATE TABLE schedules (
        database_id TEXT COLLATE "C" NOT NULL,
        schedule_id TEXT COLLATE "C" NOT NULL,
        job         TEXT NOT NULL CHECK (job IN ('backup', 'verify', 'prune')),
        cron        TEXT NOT NULL,
        timezone    TEXT NOT NULL,
        paused      BOOLEAN NOT NULL DEFAULT false,
        origin      TEXT NOT NULL CHECK (origin IN ('config', 'api')),
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (database_id, schedule_id)
      );

      CREATE TABLE job_history (
        queue       TEXT COLLATE "C" NOT NULL,
        job_id      TEXT COLLATE "C" NOT NULL,
        name        TEXT NOT NULL,
        database_id TEXT COLLATE "C" NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('completed', 'failed')),
        attempts    INTEGER NOT NULL,
        started_at  TEXT COLLATE "C" NOT NULL,
        finished_at TEXT COLLATE "C" NOT NULL,
        error       TEXT,
        result      TEXT,
        PRIMARY KEY (queue, job_id)
      );
      CREATE INDEX job_history_finished ON job_history (finished_at DESC);
      CREATE INDEX job_history_db_finished ON job_history (database_id, finished_at DESC);
      CREATE INDEX job_history_job ON job_history (job_id, finished_at DESC);
    `,
  },
  {
    version: 2,
    name: 'restore drills per database and target; key ids of the config (SQLite catalog schema 9)',
    sql: `
      CREATE TABLE restore_drills (
        database_id       TEXT COLLATE "C" NOT NULL,
        target            TEXT COLLATE "C" NOT NULL,
        last_run_at       TEXT NOT NULL,
        last_outcome      TEXT NOT NULL CHECK (last_outcome IN ('ok', 'failed')),
        last_backup_id    TEXT,
        last_error_code   TEXT,
        last_error        TEXT,
        last_ok_at        TEXT,
        last_ok_backup_id TEXT,
        PRIMARY KEY (database_id, target)
      );
      CREATE TABLE config_keys (
        key_id  TEXT COLLATE "C" PRIMARY KEY,
        seen_at TEXT NOT NULL
      );
    `,
  },
];

/** Highest PostgreSQL schema version this program knows. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;
