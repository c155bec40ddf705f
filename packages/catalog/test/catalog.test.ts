import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '@mfb/backup';
import { MIGRATIONS, SCHEMA_VERSION, SqliteCatalog, openCatalog } from '../src/index.js';
import type { BackupQuery, BackupRecord, Catalog } from '../src/index.js';
import { fakeManifest, openTestCatalog, type TestCatalog } from './fixtures.js';

/**
 * The catalog conformance suite. It runs on the SQLite catalog here, and on the PostgreSQL
 * catalog when `catalog.postgres.test.ts` imports it with MFB_TEST_CATALOG_URL set (each test
 * in its own schema). Tests of one store's mechanics (file modes, SQLite locks, query plans)
 * run only on that store.
 */
const PG_URL = process.env.MFB_TEST_CATALOG_URL;
const SQLITE = !PG_URL;

let t: TestCatalog;
let dir: string;
let cat: Catalog;

/** The SQLite catalog of this test (tests of SQLite's mechanics only). */
function sqlite(): SqliteCatalog {
  if (!(cat instanceof SqliteCatalog)) throw new Error('SQLite-only test');
  return cat;
}

beforeEach(async () => {
  t = await openTestCatalog(PG_URL, { sqliteFile: path.join('sub', 'catalog.db') });
  cat = t.cat;
  dir = t.dir;
});
afterEach(() => t.dispose(cat));


async function add(dbId: string, at: Date, targets: string[] = ['local']): Promise<Manifest> {
  const m = fakeManifest(dbId, at);
  await cat.recordBackup(m, { target: targets[0]!, artifactKey: m.artifactKey });
  for (const t of targets.slice(1)) await cat.addLocation(m.backupId, { target: t, artifactKey: m.artifactKey });
  return m;
}

async function pageAll(q: Omit<BackupQuery, 'cursor'>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100_000; i++) {
    const page: { items: BackupRecord[]; nextCursor: string | null } = await cat.listBackups({ ...q, ...(cursor ? { cursor } : {}) });
    if (q.limit !== undefined) expect(page.items.length).toBeLessThanOrEqual(q.limit);
    ids.push(...page.items.map((b) => b.backupId));
    if (!page.nextCursor) return ids;
    expect(page.items.length).toBe(q.limit ?? 50);
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

describe.runIf(SQLITE)('migrations (SQLite)', () => {
  it('creates a versioned schema, 0600 in a 0700 directory, in WAL mode', async () => {
    const file = path.join(dir, 'sub', 'catalog.db');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(sqlite().schemaVersion()).toBe(SCHEMA_VERSION);
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('is idempotent: migrating again and reopening changes nothing', async () => {
    const m = await add('db1', new Date('2026-01-01T00:00:00Z'));
    await cat.migrate();
    await cat.migrate();
    await cat.close();
    cat = await openCatalog(path.join(dir, 'sub', 'catalog.db'));
    expect(sqlite().schemaVersion()).toBe(SCHEMA_VERSION);
    expect((await cat.getBackup(m.backupId))?.databaseId).toBe('db1');
  });

  it('applies only the pending migrations, in order', async () => {
    const file = path.join(dir, 'partial.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    db.exec(MIGRATIONS[0]!.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (1, ?, ?)').run(MIGRATIONS[0]!.name, '2020-01-01T00:00:00.000Z');
    db.close();
    const c = await openCatalog(file, { migrate: false });
    try {
      expect(c.schemaVersion()).toBe(1);
      await c.migrate();
      expect(c.schemaVersion()).toBe(SCHEMA_VERSION);
      const check = new Database(file, { readonly: true });
      const rows = check.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all() as Array<{ version: number; applied_at: string }>;
      check.close();
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(rows[0]!.applied_at).toBe('2020-01-01T00:00:00.000Z');
    } finally {
      await c.close();
    }
  });

  it('processes starting together migrate a fresh file exactly once', async () => {
    const { spawn } = await import('node:child_process');
    const { writeFile } = await import('node:fs/promises');
    const { fileURLToPath, pathToFileURL } = await import('node:url');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    const file = path.join(dir, 'shared.db');
    const script = path.join(dir, 'migrate.mts');
    const entry = pathToFileURL(path.join(root, 'packages/catalog/src/index.ts')).href;
    await writeFile(script, `import { openCatalog } from ${JSON.stringify(entry)};\nconst c = await openCatalog(${JSON.stringify(file)});\nawait c.close();\n`);
    const run = (): Promise<number | null> =>
      new Promise((resolve) => spawn(path.join(root, 'node_modules/.bin/tsx'), ['--conditions=@mfb/source', script], { stdio: 'inherit' }).on('exit', resolve));
    expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    } finally {
      db.close();
    }
  });

  it('refuses a catalog written by a newer schema', async () => {
    const file = path.join(dir, 'sub', 'catalog.db');
    await cat.close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations VALUES (999, ?, ?)').run('from the future', new Date().toISOString());
    db.close();
    await expect(openCatalog(file)).rejects.toMatchObject({ code: 'CATALOG_SCHEMA_TOO_NEW' });
    cat = await openCatalog(path.join(dir, 'other.db'));
  });

  it('reports a file that is not a catalog as CATALOG_CORRUPT', async () => {
    const { writeFile } = await import('node:fs/promises');
    const file = path.join(dir, 'garbage.db');
    await writeFile(file, randomBytes(8192), { mode: 0o600 });
    await expect(openCatalog(file)).rejects.toMatchObject({ code: 'CATALOG_CORRUPT' });
  });
});

describe('concurrency', () => {
  it.runIf(SQLITE)('a write blocked by another connection past busy_timeout is CATALOG_BUSY (transient)', async () => {
    const file = path.join(dir, 'busy.db');
    const c = await openCatalog(file, { busyTimeoutMs: 50 });
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const m = fakeManifest('db1', new Date());
      await expect(c.recordBackup(m, { target: 'local', artifactKey: m.artifactKey })).rejects.toMatchObject({ code: 'CATALOG_BUSY', permanent: false });
      // Readers are not blocked by a writer in WAL mode.
      expect((await c.listBackups({})).items).toEqual([]);
      other.exec('ROLLBACK');
      await c.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
      expect(await c.getBackup(m.backupId)).not.toBeNull();
    } finally {
      other.close();
      await c.close();
    }
  });

  it('two catalogs on one store (processes, hosts) see each other\'s writes', async () => {
    const c2 = await t.openAnother();
    try {
      const m = await add('db1', new Date());
      expect((await c2.getBackup(m.backupId))?.backupId).toBe(m.backupId);
      await c2.setPinned(m.backupId, true);
      expect((await cat.getBackup(m.backupId))!.pinned).toBe(true);
    } finally {
      await c2.close();
    }
  });
});

describe('backups and locations', () => {
  it('records a backup with its location; recording again is idempotent', async () => {
    const m = fakeManifest('db1', new Date('2026-03-01T10:00:00.123Z'), { size: 4321 });
    await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey, storedAt: '2026-03-01T10:00:05Z' });
    await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    const r = await cat.getBackup(m.backupId);
    expect(r).toEqual({
      backupId: m.backupId,
      databaseId: 'db1',
      createdAt: '2026-03-01T10:00:00.123Z',
      sizeBytes: 4321,
      pinned: false,
      manifest: m,
      locations: [{ target: 'local', artifactKey: m.artifactKey, storedAt: '2026-03-01T10:00:05.000Z', storageClass: null, deletedAt: null }],
    });
    expect((await cat.listBackups({})).items).toHaveLength(1);
    expect(await cat.getBackup('nope')).toBeNull();
  });

  it('adds copies, marks them deleted (idempotently) and derives the status', async () => {
    const m = await add('db1', new Date('2026-03-01T10:00:00Z'));
    await cat.addLocation(m.backupId, { target: 'nas', artifactKey: m.artifactKey, storedAt: '2026-03-01T11:00:00Z' });
    let r = (await cat.getBackup(m.backupId))!;
    expect(r.locations.map((l) => l.target).sort()).toEqual(['local', 'nas']);
    await cat.markLocationDeleted(m.backupId, 'local', '2026-03-02T00:00:00Z');
    await cat.markLocationDeleted(m.backupId, 'local', '2026-03-09T00:00:00Z');
    r = (await cat.getBackup(m.backupId))!;
    expect(r.locations.find((l) => l.target === 'local')!.deletedAt).toBe('2026-03-02T00:00:00.000Z');
    expect(await pageAll({ status: 'available' })).toEqual([m.backupId]);
    expect(await pageAll({ target: 'local' })).toEqual([]);
    expect(await pageAll({ target: 'nas' })).toEqual([m.backupId]);
    await cat.markLocationDeleted(m.backupId, 'nas');
    expect(await pageAll({ status: 'available' })).toEqual([]);
    expect(await pageAll({ status: 'deleted' })).toEqual([m.backupId]);
    expect(await cat.latestBackup('db1')).toBeNull();
    // The copy came back (re-upload, rebuild): live again.
    await cat.addLocation(m.backupId, { target: 'nas', artifactKey: m.artifactKey });
    expect(await pageAll({ status: 'available' })).toEqual([m.backupId]);
  });

  it('records the storage class of each copy; re-recording without a class keeps it', async () => {
    const m = await add('db1', new Date('2026-03-01T10:00:00Z'));
    await cat.addLocation(m.backupId, { target: 'offsite', artifactKey: m.artifactKey, storageClass: 'STANDARD_IA' });
    const classOf = async (t: string) => (await cat.getBackup(m.backupId))!.locations.find((l) => l.target === t)!.storageClass;
    expect(await classOf('offsite')).toBe('STANDARD_IA');
    expect(await classOf('local')).toBeNull();
    await cat.addLocation(m.backupId, { target: 'offsite', artifactKey: m.artifactKey });
    expect(await classOf('offsite')).toBe('STANDARD_IA');
    await cat.addLocation(m.backupId, { target: 'offsite', artifactKey: m.artifactKey, storageClass: 'GLACIER' });
    expect(await classOf('offsite')).toBe('GLACIER');
    await expect(cat.addLocation(m.backupId, { target: 'offsite', artifactKey: m.artifactKey, storageClass: '' })).rejects.toMatchObject({ code: 'CATALOG_INVALID_RECORD' });
  });

  it('unknown backups and copies are CATALOG_NOT_FOUND', async () => {
    const m = await add('db1', new Date());
    await expect(cat.addLocation('missing', { target: 'nas', artifactKey: 'x' })).rejects.toMatchObject({ code: 'CATALOG_NOT_FOUND', status: 404 });
    await expect(cat.markLocationDeleted('missing', 'local')).rejects.toMatchObject({ code: 'CATALOG_NOT_FOUND' });
    await expect(cat.markLocationDeleted(m.backupId, 'nas')).rejects.toMatchObject({ code: 'CATALOG_NOT_FOUND' });
    await expect(cat.setPinned('missing', true)).rejects.toMatchObject({ code: 'CATALOG_NOT_FOUND' });
  });

  it('rejects malformed records and queries with stable codes', async () => {
    const m = fakeManifest('db1', new Date());
    await expect(cat.recordBackup({ ...m, createdAt: 'yesterday' }, { target: 'local', artifactKey: m.artifactKey })).rejects.toMatchObject({
      code: 'CATALOG_INVALID_RECORD',
    });
    await expect(cat.recordBackup(m, { target: '', artifactKey: m.artifactKey })).rejects.toMatchObject({ code: 'CATALOG_INVALID_RECORD' });
    await expect(cat.listBackups({ limit: 0 })).rejects.toMatchObject({ code: 'CATALOG_INVALID_QUERY' });
    await expect(cat.listBackups({ limit: 501 })).rejects.toMatchObject({ code: 'CATALOG_INVALID_QUERY' });
    await expect(cat.listBackups({ cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'CATALOG_INVALID_QUERY', status: 400 });
    await expect(cat.listBackups({ createdAfter: 'soon' })).rejects.toMatchObject({ code: 'CATALOG_INVALID_QUERY' });
  });

  it('pins and unpins', async () => {
    const m = await add('db1', new Date());
    await cat.setPinned(m.backupId, true);
    expect((await cat.getBackup(m.backupId))!.pinned).toBe(true);
    expect((await cat.listBackups({})).items[0]!.pinned).toBe(true);
    await cat.setPinned(m.backupId, false);
    expect((await cat.getBackup(m.backupId))!.pinned).toBe(false);
  });

  it('latestBackup is the newest backup with a live copy', async () => {
    const a = await add('db1', new Date('2026-01-01T00:00:00Z'));
    const b = await add('db1', new Date('2026-01-02T00:00:00Z'));
    await add('db2', new Date('2026-01-03T00:00:00Z'));
    expect((await cat.latestBackup('db1'))!.backupId).toBe(b.backupId);
    await cat.markLocationDeleted(b.backupId, 'local');
    expect((await cat.latestBackup('db1'))!.backupId).toBe(a.backupId);
    expect(await cat.latestBackup('nobody')).toBeNull();
  });
});

describe('pagination and filters', () => {
  /** 3 databases, many equal timestamps, copies on local and some on nas, some deleted. */
  async function seed(n: number): Promise<Manifest[]> {
    const base = Date.parse('2026-05-01T00:00:00Z');
    const all: Manifest[] = [];
    for (let i = 0; i < n; i++) {
      const db = ['db1', 'db2', 'db3'][i % 3]!;
      const at = new Date(base + Math.floor(i / 7) * 60_000); // groups of 7 share a timestamp
      const m = await add(db, at, i % 4 === 0 ? ['local', 'nas'] : ['local']);
      if (i % 5 === 0) await cat.markLocationDeleted(m.backupId, 'local');
      all.push(m);
    }
    return all;
  }

  function expected(all: Manifest[], pred: (m: Manifest, i: number) => boolean): string[] {
    return all
      .map((m, i) => ({ m, i }))
      .filter(({ m, i }) => pred(m, i))
      .map(({ m }) => m)
      .sort((x, y) => Date.parse(y.createdAt) - Date.parse(x.createdAt) || (y.backupId < x.backupId ? -1 : y.backupId > x.backupId ? 1 : 0))
      .map((m) => m.backupId);
  }

  it('pages newest first with no duplicates or gaps, whatever the page size', async () => {
    const all = await seed(157);
    const want = expected(all, () => true);
    for (const limit of [1, 7, 10, 50, 156, 157, 500]) {
      const got = await pageAll({ limit });
      expect(got).toEqual(want);
      expect(new Set(got).size).toBe(got.length);
    }
    const first = await cat.listBackups({ limit: 5 });
    expect(first.items).toHaveLength(5);
    expect(first.items[0]!.createdAt >= first.items[4]!.createdAt).toBe(true);
    expect((await cat.listBackups({})).items).toHaveLength(50);
  });

  it('filters by database, target, status and time, alone and combined', async () => {
    const all = await seed(157);
    const t = (m: Manifest): number => Date.parse(m.createdAt);
    const liveLocal = (i: number): boolean => i % 5 !== 0;
    const onNas = (i: number): boolean => i % 4 === 0;
    const after = '2026-05-01T00:40:00Z';
    const before = '2026-05-01T02:00:00Z';
    const cases: Array<[Omit<BackupQuery, 'cursor'>, (m: Manifest, i: number) => boolean]> = [
      [{ databaseId: 'db2' }, (m) => m.databaseId === 'db2'],
      [{ target: 'nas' }, (_m, i) => onNas(i)],
      [{ target: 'local' }, (_m, i) => liveLocal(i)],
      [{ status: 'available' }, (_m, i) => liveLocal(i) || onNas(i)],
      [{ status: 'deleted' }, (_m, i) => !liveLocal(i) && !onNas(i)],
      [{ createdAfter: after }, (m) => t(m) > Date.parse(after)],
      [{ createdBefore: before }, (m) => t(m) < Date.parse(before)],
      [{ databaseId: 'db1', target: 'nas' }, (m, i) => m.databaseId === 'db1' && onNas(i)],
      [{ databaseId: 'db3', status: 'deleted', createdAfter: after }, (m, i) => m.databaseId === 'db3' && !liveLocal(i) && !onNas(i) && t(m) > Date.parse(after)],
      [
        { databaseId: 'db1', target: 'local', createdAfter: after, createdBefore: before },
        (m, i) => m.databaseId === 'db1' && liveLocal(i) && t(m) > Date.parse(after) && t(m) < Date.parse(before),
      ],
      [{ target: 'nas', status: 'deleted' }, () => false],
      [{ databaseId: 'none' }, () => false],
    ];
    for (const [q, pred] of cases) {
      const want = expected(all, pred);
      expect(await pageAll({ ...q, limit: 6 }), JSON.stringify(q)).toEqual(want);
      expect(await pageAll({ ...q, limit: 500 }), JSON.stringify(q)).toEqual(want);
    }
  });

  it('a cursor stays valid while newer backups arrive and older ones are deleted', async () => {
    const all = await seed(40);
    const want = expected(all, () => true);
    const p1 = await cat.listBackups({ limit: 15 });
    await add('db1', new Date('2030-01-01T00:00:00Z')); // newer than everything: not in later pages
    await cat.markLocationDeleted(want[20]!, 'local').catch(() => undefined);
    const rest: string[] = [];
    let cursor = p1.nextCursor;
    while (cursor) {
      const p = await cat.listBackups({ limit: 15, cursor });
      rest.push(...p.items.map((b) => b.backupId));
      cursor = p.nextCursor;
    }
    expect([...p1.items.map((b) => b.backupId), ...rest]).toEqual(want);
  });

  it.runIf(SQLITE)('pages through the indexes, without sorting', () => {
    const queries: BackupQuery[] = [
      {},
      { databaseId: 'db1' },
      { status: 'available' },
      { status: 'deleted' },
      { databaseId: 'db1', status: 'deleted' },
      { target: 'nas' },
      { target: 'nas', databaseId: 'db1' },
      { databaseId: 'db1', createdAfter: '2026-01-01T00:00:00Z', createdBefore: '2027-01-01T00:00:00Z' },
    ];
    for (const q of queries) {
      const plan = sqlite().explainListBackups({ ...q, cursor: Buffer.from(JSON.stringify([1, Date.now(), 'x'])).toString('base64url') }).join(' | ');
      expect(plan, JSON.stringify(q)).toMatch(/USING (COVERING )?INDEX/);
      expect(plan, JSON.stringify(q)).not.toMatch(/TEMP B-TREE/);
    }
  });
});

describe('storage usage', () => {
  it('counts live copies and their bytes per database and target; deleted copies only in firstCopyAt', async () => {
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const ms: Manifest[] = [];
    for (let i = 0; i < 4; i++) {
      const m = fakeManifest(i < 3 ? 'db1' : 'db2', new Date(t0 + i * 3600_000), { size: 1000 * (i + 1) });
      await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
      ms.push(m);
    }
    await cat.addLocation(ms[0]!.backupId, { target: 'nas', artifactKey: ms[0]!.artifactKey });
    await cat.addLocation(ms[1]!.backupId, { target: 'nas', artifactKey: ms[1]!.artifactKey });
    await cat.markLocationDeleted(ms[0]!.backupId, 'nas');
    await cat.markLocationDeleted(ms[0]!.backupId, 'local');
    expect(await cat.storageUsage()).toEqual([
      { databaseId: 'db1', target: 'local', backups: 2, bytes: 5000, firstCopyAt: '2026-11-01T00:00:00.000Z' },
      { databaseId: 'db1', target: 'nas', backups: 1, bytes: 2000, firstCopyAt: '2026-11-01T00:00:00.000Z' },
      { databaseId: 'db2', target: 'local', backups: 1, bytes: 4000, firstCopyAt: '2026-11-01T03:00:00.000Z' },
    ]);
    expect(await cat.storageUsage({ databaseId: 'db2' })).toEqual([{ databaseId: 'db2', target: 'local', backups: 1, bytes: 4000, firstCopyAt: '2026-11-01T03:00:00.000Z' }]);
    expect(await cat.storageUsage({ databaseId: 'nope' })).toEqual([]);
    await cat.markLocationDeleted(ms[1]!.backupId, 'nas');
    expect((await cat.storageUsage({ databaseId: 'db1' })).find((u) => u.target === 'nas')).toMatchObject({ backups: 0, bytes: 0 });
    // one database's usage reads its rows through the index
    if (SQLITE) expect(sqlite().explainStorageUsage({ databaseId: 'db1' }).join(' | ')).toMatch(/USING (COVERING )?INDEX locations_db_target/);
  });
});

describe('schedules', () => {
  it('creates, updates, lists, gets and deletes desired schedules', async () => {
    const s1 = await cat.upsertSchedule({ databaseId: 'db1', scheduleId: 'nightly', job: 'backup', cron: '0 3 * * *', timezone: 'Europe/Berlin', paused: false, origin: 'config' });
    expect(Date.parse(s1.updatedAt)).not.toBeNaN();
    await cat.upsertSchedule({ databaseId: 'db2', scheduleId: 'hourly', job: 'verify', cron: '0 * * * *', timezone: 'UTC', paused: true, origin: 'api' });
    await cat.upsertSchedule({ databaseId: 'db1', scheduleId: 'nightly', job: 'backup', cron: '30 2 * * *', timezone: 'UTC', paused: true, origin: 'api' });
    expect(await cat.getSchedule('db1', 'nightly')).toMatchObject({ cron: '30 2 * * *', timezone: 'UTC', paused: true, origin: 'api' });
    expect((await cat.listSchedules()).map((s) => `${s.databaseId}:${s.scheduleId}`)).toEqual(['db1:nightly', 'db2:hourly']);
    expect((await cat.listSchedules('db2')).map((s) => s.scheduleId)).toEqual(['hourly']);
    expect(await cat.getSchedule('db1', 'nope')).toBeNull();
    expect(await cat.deleteSchedule('db1', 'nightly')).toBe(true);
    expect(await cat.deleteSchedule('db1', 'nightly')).toBe(false);
    expect(await cat.listSchedules('db1')).toEqual([]);
    await expect(
      cat.upsertSchedule({ databaseId: 'db1', scheduleId: 'x', job: 'upload' as 'backup', cron: '* * * * *', timezone: 'UTC', paused: false, origin: 'api' }),
    ).rejects.toMatchObject({ code: 'CATALOG_INVALID_RECORD' });
  });
});

describe('job history', () => {
  it('records jobs (a retried job keeps its final outcome) and lists newest first', async () => {
    const base = { queue: 'backup', name: 'backup', attempts: 1, startedAt: '2026-01-01T00:00:00.000Z', error: null, result: null };
    await cat.recordJob({ ...base, jobId: '1', databaseId: 'db1', state: 'failed', finishedAt: '2026-01-01T00:01:00.000Z', error: 'boom' });
    await cat.recordJob({ ...base, jobId: '2', databaseId: 'db2', state: 'completed', finishedAt: '2026-01-01T00:02:00.000Z', result: { backupId: 'x', n: 1 } });
    await cat.recordJob({ ...base, jobId: '1', databaseId: 'db1', state: 'completed', attempts: 2, finishedAt: '2026-01-01T00:03:00.000Z' });
    await cat.recordJob({ ...base, queue: 'verify', name: 'verify', jobId: '1', databaseId: 'db1', state: 'completed', finishedAt: '2026-01-01T00:04:00.000Z' });
    const all = await cat.listJobs({});
    expect(all.map((j) => `${j.queue}/${j.jobId}:${j.state}`)).toEqual(['verify/1:completed', 'backup/1:completed', 'backup/2:completed']);
    expect(all[1]).toMatchObject({ attempts: 2, error: null });
    expect(all[2]!.result).toEqual({ backupId: 'x', n: 1 });
    expect((await cat.listJobs({ databaseId: 'db2' })).map((j) => j.jobId)).toEqual(['2']);
    expect(await cat.listJobs({ limit: 1 })).toHaveLength(1);
  });

  it('finds a finished job by id (the newest when two queues used the id)', async () => {
    const base = { queue: 'backup', name: 'backup', databaseId: 'db1', attempts: 1, startedAt: '2026-01-01T00:00:00.000Z', error: null };
    await cat.recordJob({ ...base, jobId: 'backup-1', state: 'completed', finishedAt: '2026-01-01T00:01:00.000Z', result: { backupId: 'b1' } });
    await cat.recordJob({ ...base, jobId: 'x', state: 'failed', finishedAt: '2026-01-01T00:01:00.000Z', error: 'boom', result: null });
    await cat.recordJob({ ...base, queue: 'verify', name: 'verify', jobId: 'x', state: 'completed', finishedAt: '2026-01-01T00:02:00.000Z', result: null });
    expect(await cat.getJob('backup-1')).toMatchObject({ queue: 'backup', state: 'completed', result: { backupId: 'b1' } });
    expect(await cat.getJob('x')).toMatchObject({ queue: 'verify', state: 'completed' });
    expect(await cat.getJob('nope')).toBeNull();
  });
});

describe('healthSummary', () => {
  const job = (databaseId: string, name: string, state: 'completed' | 'failed', finishedAt: string, error: string | null = null) => ({
    jobId: `${name}-${randomBytes(4).toString('hex')}`,
    queue: name,
    name,
    databaseId,
    state,
    attempts: 1,
    startedAt: finishedAt,
    finishedAt,
    error,
    result: null,
  });

  it('answers for every database: newest live backup, last K backup jobs newest first, last completed verify', async () => {
    await cat.migrate();
    const older = await add('a', new Date('2026-01-01T00:00:00.000Z'));
    const newest = await add('a', new Date('2026-01-02T00:00:00.000Z'));
    // The newest has no live copy left: the older one counts.
    await cat.markLocationDeleted(newest.backupId, 'local');
    await cat.recordJob(job('a', 'backup', 'completed', '2026-01-01T00:00:00.000Z'));
    await cat.recordJob(job('a', 'verify', 'completed', '2026-01-01T01:00:00.000Z'));
    await cat.recordJob(job('a', 'backup', 'failed', '2026-01-01T02:00:00.000Z', 'E1'));
    await cat.recordJob(job('a', 'upload', 'failed', '2026-01-01T03:00:00.000Z', 'U'));
    await cat.recordJob(job('a', 'backup', 'failed', '2026-01-01T04:00:00.000Z', 'E2'));
    await cat.recordJob(job('a', 'verify', 'failed', '2026-01-01T05:00:00.000Z', 'V'));

    const s = await cat.healthSummary(['a', 'none'], { backupJobs: 2, verify: true });
    expect(s.get('a')).toEqual({
      lastBackupAt: older.createdAt,
      backupJobs: [
        { state: 'failed', finishedAt: '2026-01-01T04:00:00.000Z', error: 'E2' },
        { state: 'failed', finishedAt: '2026-01-01T02:00:00.000Z', error: 'E1' },
      ],
      lastVerifiedAt: '2026-01-01T01:00:00.000Z',
    });
    expect(s.get('none')).toEqual({ lastBackupAt: null, backupJobs: [], lastVerifiedAt: null });
    expect((await cat.healthSummary(['a'], { backupJobs: 5, verify: false })).get('a')).toMatchObject({ lastVerifiedAt: null, backupJobs: [expect.anything(), expect.anything(), expect.anything()] });
  });
});
