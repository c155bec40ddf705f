import { buffer } from 'node:stream/consumers';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pinKeyFor } from '@mfb/backup';
import { BackupIdSchema, DatabaseIdSchema, TargetNameSchema } from '@mfb/client';
import { BackupId, DatabaseId, DatabaseLocks, TargetName, schedulerId } from '@mfb/jobs';
import { Redis } from 'ioredis';
import { openStorage } from '@mfb/storage';
import { REDIS_URL, bearer, fakeChain, fakeManifest, problemOf, putFile, startTestApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp();
});
afterEach(async () => {
  await t?.close();
});

const json = (body: unknown) => ({ 'content-type': 'application/json', payload: JSON.stringify(body) });

async function seed(databaseId: string, n: number, start = Date.parse('2026-01-01T00:00:00Z'), stepMs = 3600_000) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = fakeManifest(databaseId, new Date(start + i * stepMs));
    await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    ids.push(m.backupId);
  }
  return ids;
}

describe('contract', () => {
  it('the client schemas use the same id patterns as the job contract', () => {
    expect(DatabaseIdSchema.pattern).toBe(DatabaseId.pattern);
    expect(BackupIdSchema.pattern).toBe(BackupId.pattern);
    expect(TargetNameSchema.pattern).toBe(TargetName.pattern);
  });

  it('publishes OpenAPI at /docs/json with every /v1 route', async () => {
    const res = await t.app.inject({ url: '/docs/json', headers: bearer('read') });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/databases',
        '/v1/databases/{databaseId}',
        '/v1/databases/{databaseId}/backups',
        '/v1/databases/{databaseId}/backups/{backupId}',
        '/v1/databases/{databaseId}/backups/{backupId}/artifact',
        '/v1/databases/{databaseId}/backups/{backupId}/pin',
        '/v1/databases/{databaseId}/restores',
        '/v1/databases/{databaseId}/verifies',
        '/v1/databases/{databaseId}/schedules',
        '/v1/databases/{databaseId}/schedules/{scheduleId}',
        '/v1/schedules',
        '/v1/jobs/{jobId}',
      ]),
    );
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/admin'))).toBe(false);
  });
});

describe('health', () => {
  it('liveness needs no key; readiness checks Redis and the catalog', async () => {
    expect((await t.app.inject({ url: '/health/live' })).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ url: '/health/ready', headers: bearer('read') });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok', checks: { redis: 'ok', catalog: 'ok' } });
  });
});

describe('databases', () => {
  it('lists the configured databases', async () => {
    const res = await t.app.inject({ url: '/v1/databases', headers: bearer('read') });
    expect(res.statusCode).toBe(200);
    expect(res.json().items.map((d: { id: string }) => d.id)).toEqual(['main', 'other']);
  });

  it('shows the last backup and its health against the schedule', async () => {
    let res = await t.app.inject({ url: '/v1/databases/main', headers: bearer('read') });
    expect(res.json().health.status).toBe('never');
    expect(res.json().lastBackup).toBeNull();

    const m = fakeManifest('main', new Date(Date.now() - 3 * 3600_000));
    await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    res = await t.app.inject({ url: '/v1/databases/main', headers: bearer('read') });
    expect(res.json().health.status).toBe('unscheduled');
    expect(res.json().lastBackup.backupId).toBe(m.backupId);

    await t.catalog.upsertSchedule({ databaseId: 'main', scheduleId: 'hourly', job: 'backup', cron: '0 * * * *', timezone: 'UTC', paused: false, origin: 'api' });
    res = await t.app.inject({ url: '/v1/databases/main', headers: bearer('read') });
    expect(res.json().health).toMatchObject({ status: 'stale', expectedIntervalSeconds: 3600 });

    await t.catalog.upsertSchedule({ databaseId: 'main', scheduleId: 'hourly', job: 'backup', cron: '0 */4 * * *', timezone: 'UTC', paused: false, origin: 'api' });
    res = await t.app.inject({ url: '/v1/databases/main', headers: bearer('read') });
    expect(res.json().health).toMatchObject({ status: 'ok', expectedIntervalSeconds: 4 * 3600 });
  });

  it('404 problem for an unknown database', async () => {
    const res = await t.app.inject({ url: '/v1/databases/nope', headers: bearer('read') });
    expect(res.statusCode).toBe(404);
    expect(problemOf(res).code).toBe('DATABASE_NOT_FOUND');
  });
});

describe('trigger backups', () => {
  it('202 with a job id and a status URL; a second trigger while waiting returns the same job', async () => {
    const a = await t.app.inject({ method: 'POST', url: '/v1/databases/main/backups', headers: bearer('write') });
    expect(a.statusCode).toBe(202);
    const acc = a.json();
    expect(acc).toMatchObject({ queue: 'backup', deduplicated: false });
    expect(acc.statusUrl).toBe(`/v1/jobs/${acc.jobId}`);
    expect(a.headers.location).toBe(acc.statusUrl);

    const b = await t.app.inject({ method: 'POST', url: '/v1/databases/main/backups', headers: { ...bearer('write'), ...json({}) }, payload: '{}' });
    expect(b.statusCode).toBe(202);
    expect(b.json()).toMatchObject({ jobId: acc.jobId, deduplicated: true });

    const other = await t.app.inject({ method: 'POST', url: '/v1/databases/other/backups', headers: bearer('write') });
    expect(other.json().jobId).not.toBe(acc.jobId);

    const job = await t.app.inject({ url: acc.statusUrl, headers: bearer('read') });
    expect(job.statusCode).toBe(200);
    expect(job.json()).toMatchObject({ id: acc.jobId, queue: 'backup', state: 'waiting', attemptsMade: 0, failedReason: null });
    expect(job.json().data).toEqual({ databaseId: 'main', trigger: 'api' });
  });

  it('schedules a one-off backup at an instant', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const res = await t.app.inject({ method: 'POST', url: '/v1/databases/main/backups', headers: { 'content-type': 'application/json', ...bearer('write') }, payload: JSON.stringify({ at }) });
    expect(res.statusCode).toBe(202);
    const job = (await t.app.inject({ url: res.json().statusUrl, headers: bearer('read') })).json();
    expect(job.state).toBe('delayed');
    expect(Math.abs(Date.parse(job.runAt) - Date.parse(at))).toBeLessThan(5000);
  });

  it('refuses `at` more than 30 days ahead, and malformed instants', async () => {
    const far = await t.app.inject({ method: 'POST', url: '/v1/databases/main/backups', headers: { 'content-type': 'application/json', ...bearer('write') }, payload: JSON.stringify({ at: '2999-01-01T00:00:00Z' }) });
    expect(problemOf(far).code).toBe('AT_TOO_FAR');
    const bad = await t.app.inject({ method: 'POST', url: '/v1/databases/main/backups', headers: { 'content-type': 'application/json', ...bearer('write') }, payload: JSON.stringify({ at: 'tomorrow' }) });
    expect(bad.statusCode).toBe(400);
    expect(problemOf(bad).code).toBe('VALIDATION_FAILED');
  });

  it('404 for an unknown database and for unknown jobs', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/databases/ghost/backups', headers: bearer('write') });
    expect(problemOf(res).code).toBe('DATABASE_NOT_FOUND');
    const job = await t.app.inject({ url: '/v1/jobs/backup-00000000-0000-0000-0000-000000000000', headers: bearer('read') });
    expect(job.statusCode).toBe(404);
    expect(problemOf(job).code).toBe('JOB_NOT_FOUND');
  });
});

describe('jobs after the queue removed them', () => {
  it('GET /v1/jobs/:id answers a finished job from the catalog history once BullMQ removed it', async () => {
    const acc = (await t.app.inject({ method: 'POST', url: '/v1/databases/main/backups', headers: bearer('write') })).json();
    // What the worker writes when the job ends, then what BullMQ's removeOnComplete does.
    await t.catalog.recordJob({
      jobId: acc.jobId, queue: 'backup', name: 'backup', databaseId: 'main', state: 'completed', attempts: 1,
      startedAt: '2026-03-01T02:00:00.000Z', finishedAt: '2026-03-01T02:00:05.000Z', error: null, result: { backupId: '20260301T020000000Z-0000abcd' },
      lockAcquiredAt: '2026-03-01T02:00:00.100Z', lockReleasedAt: '2026-03-01T02:00:04.900Z',
    });
    expect((await t.app.inject({ url: acc.statusUrl, headers: bearer('read') })).json().state).toBe('waiting');
    await t.queues.backup.remove(acc.jobId);

    const res = await t.app.inject({ url: acc.statusUrl, headers: bearer('read') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: acc.jobId, queue: 'backup', state: 'completed', attemptsMade: 1, failedReason: null,
      result: { backupId: '20260301T020000000Z-0000abcd' }, data: { databaseId: 'main' }, finishedAt: '2026-03-01T02:00:05.000Z',
      lock: { acquiredAt: '2026-03-01T02:00:00.100Z', releasedAt: '2026-03-01T02:00:04.900Z' },
    });
  });

  it('a failed job keeps its reason; an id neither knows is 404', async () => {
    await t.catalog.recordJob({
      jobId: 'verify-1f2e', queue: 'verify', name: 'verify', databaseId: 'other', state: 'failed', attempts: 3,
      startedAt: '2026-03-01T02:00:00.000Z', finishedAt: '2026-03-01T02:01:00.000Z', error: 'BACKUP_CHECKSUM_MISMATCH: artifact changed', result: null,
    });
    const res = await t.app.inject({ url: '/v1/jobs/verify-1f2e', headers: bearer('read') });
    expect(res.json()).toMatchObject({ state: 'failed', failedReason: 'BACKUP_CHECKSUM_MISMATCH: artifact changed', attemptsMade: 3, maxAttempts: 3 });
    expect(problemOf(await t.app.inject({ url: '/v1/jobs/verify-unknown', headers: bearer('read') })).code).toBe('JOB_NOT_FOUND');
  });
});

describe('list and read backups', () => {
  it('incremental backups: kind, parent and chain length in the list and the detail', async () => {
    const chain = fakeChain('main', new Date('2026-01-02T00:00:00Z'), 2);
    for (const m of chain) await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    const list = (await t.app.inject({ url: '/v1/databases/main/backups', headers: bearer('read') })).json() as { items: Array<Record<string, unknown>> };
    expect(list.items.map((i) => [i.kind, i.parentId, i.chainLength])).toEqual([
      ['delta', chain[1]!.backupId, 2],
      ['delta', chain[0]!.backupId, 1],
      ['full', null, 0],
    ]);
    const detail = (await t.app.inject({ url: `/v1/databases/main/backups/${chain[2]!.backupId}`, headers: bearer('read') })).json() as Record<string, unknown>;
    expect(detail).toMatchObject({ kind: 'delta', parentId: chain[1]!.backupId, chainLength: 2, compactedFrom: null });
    // A formatVersion 1 backup is a full.
    const v1 = fakeManifest('main', new Date('2026-01-03T00:00:00Z'));
    await t.catalog.recordBackup(v1, { target: 'local', artifactKey: v1.artifactKey });
    const one = (await t.app.inject({ url: `/v1/databases/main/backups/${v1.backupId}`, headers: bearer('read') })).json() as Record<string, unknown>;
    expect(one).toMatchObject({ kind: 'full', parentId: null, chainLength: 0 });
  });

  it('pages newest first with a cursor, and filters', async () => {
    const ids = await seed('main', 7);
    await seed('other', 2);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/databases/main/backups?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await t.app.inject({ url, headers: bearer('read') });
      expect(res.statusCode).toBe(200);
      const page = res.json() as { items: Array<{ backupId: string; databaseId: string; downloadUrl: string }>; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((i) => i.backupId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual([...ids].reverse());

    const after = await t.app.inject({ url: '/v1/databases/main/backups?createdAfter=2026-01-01T03:30:00Z&createdBefore=2026-01-01T05:30:00Z', headers: bearer('read') });
    expect(after.json().items.map((i: { backupId: string }) => i.backupId)).toEqual([ids[5], ids[4]]);

    const onNas = await t.app.inject({ url: '/v1/databases/main/backups?target=nas', headers: bearer('read') });
    expect(onNas.json().items).toEqual([]);
    const avail = await t.app.inject({ url: '/v1/databases/main/backups?status=available&limit=500', headers: bearer('read') });
    expect(avail.json().items).toHaveLength(7);

    const range = await t.app.inject({ url: '/v1/databases/main/backups?createdAfter=2026-02-01T00:00:00Z&createdBefore=2026-01-01T00:00:00Z', headers: bearer('read') });
    expect(problemOf(range).code).toBe('INVALID_RANGE');
    for (const limit of ['0', '501', '-1', 'ten', '1.5']) {
      const res = await t.app.inject({ url: `/v1/databases/main/backups?limit=${limit}`, headers: bearer('read') });
      expect(res.statusCode, limit).toBe(400);
      expect(problemOf(res).code).toBe('VALIDATION_FAILED');
    }
  });

  it('returns one backup with its manifest; 404 across databases', async () => {
    const [id] = await seed('main', 1);
    const res = await t.app.inject({ url: `/v1/databases/main/backups/${id}`, headers: bearer('read') });
    expect(res.statusCode).toBe(200);
    const b = res.json();
    expect(b).toMatchObject({ backupId: id, databaseId: 'main', pinned: false, status: 'available' });
    expect(b.manifest).toMatchObject({ formatVersion: 1, backupId: id, artifact: { sha256: 'a'.repeat(64) } });
    const cross = await t.app.inject({ url: `/v1/databases/other/backups/${id}`, headers: bearer('read') });
    expect(problemOf(cross).code).toBe('BACKUP_NOT_FOUND');
  });

  it('streams the artifact with its length; 404 when the target has no copy', async () => {
    const bytes = Buffer.from('fake artifact bytes '.repeat(1000));
    const m = { ...fakeManifest('main', new Date()), artifact: { sizeBytes: bytes.length, sha256: 'c'.repeat(64) } };
    await putFile(t.config.storageUrl, m.artifactKey, bytes);
    await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    const res = await t.app.inject({ url: `/v1/databases/main/backups/${m.backupId}/artifact`, headers: bearer('read') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(bytes.length));
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toContain(`${m.backupId}.sqlite.gz`);
    expect(res.rawPayload.equals(bytes)).toBe(true);
    const nas = await t.app.inject({ url: `/v1/databases/main/backups/${m.backupId}/artifact?target=nas`, headers: bearer('read') });
    expect(problemOf(nas).code).toBe('BACKUP_NOT_ON_TARGET');
  });
});

describe('pin and delete', () => {
  it('pins, refuses to delete a pinned backup, unpins, deletes every copy', async () => {
    const bytes = Buffer.from('x'.repeat(100));
    const m = { ...fakeManifest('main', new Date()), artifact: { sizeBytes: bytes.length, sha256: 'c'.repeat(64) } };
    const storage = openStorage(t.config.storageUrl);
    await putFile(t.config.storageUrl, m.artifactKey, bytes);
    await putFile(t.config.storageUrl, `${m.artifactKey}.manifest.json`, Buffer.from(JSON.stringify(m)));
    await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    const url = `/v1/databases/main/backups/${m.backupId}`;

    const pin = await t.app.inject({ method: 'PUT', url: `${url}/pin`, headers: bearer('write') });
    expect(pin.statusCode).toBe(200);
    expect(pin.json().pinned).toBe(true);
    // The pin is in storage too (`<artifactKey>.pin.json`), so a catalog rebuild keeps it.
    const marker = JSON.parse((await buffer(await storage.get(pinKeyFor(m.artifactKey)))).toString('utf8')) as Record<string, unknown>;
    expect(marker).toMatchObject({ backupId: m.backupId, formatVersion: 1 });
    expect(Number.isFinite(Date.parse(String(marker['pinnedAt'])))).toBe(true);
    const refused = await t.app.inject({ method: 'DELETE', url, headers: bearer('write') });
    expect(refused.statusCode).toBe(409);
    expect(problemOf(refused).code).toBe('BACKUP_PINNED');
    expect(await storage.head(pinKeyFor(m.artifactKey))).not.toBeNull();
    const unpin = await t.app.inject({ method: 'DELETE', url: `${url}/pin`, headers: bearer('write') });
    expect(unpin.json().pinned).toBe(false);
    expect(await storage.head(pinKeyFor(m.artifactKey))).toBeNull();

    const del = await t.app.inject({ method: 'DELETE', url, headers: bearer('write') });
    expect(del.statusCode).toBe(204);
    expect(await storage.head(m.artifactKey)).toBeNull();
    expect(await storage.head(`${m.artifactKey}.manifest.json`)).toBeNull();
    const after = await t.app.inject({ url, headers: bearer('read') });
    expect(after.json().status).toBe('deleted');
    const dl = await t.app.inject({ url: `${url}/artifact`, headers: bearer('read') });
    expect(problemOf(dl).code).toBe('BACKUP_NOT_ON_TARGET');
  });

  it('pin writes the marker beside every live copy, unpin removes them all', async () => {
    const m = fakeManifest('main', new Date());
    const nasUrl = t.app.storageFor('nas').url;
    await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    await t.catalog.addLocation(m.backupId, { target: 'nas', artifactKey: m.artifactKey });
    const stores = [openStorage(t.config.storageUrl), openStorage(nasUrl)];
    const url = `/v1/databases/main/backups/${m.backupId}/pin`;
    expect((await t.app.inject({ method: 'PUT', url, headers: bearer('write') })).statusCode).toBe(200);
    for (const s of stores) expect(await s.head(pinKeyFor(m.artifactKey))).not.toBeNull();
    expect((await t.app.inject({ method: 'DELETE', url, headers: bearer('write') })).json().pinned).toBe(false);
    for (const s of stores) expect(await s.head(pinKeyFor(m.artifactKey))).toBeNull();
  });

  it('deletes only the copies named (?target=), then the rest; unknown or absent targets delete nothing', async () => {
    const bytes = Buffer.from('z'.repeat(100));
    const m = { ...fakeManifest('main', new Date()), artifact: { sizeBytes: bytes.length, sha256: 'e'.repeat(64) } };
    const nasUrl = t.app.storageFor('nas').url;
    for (const u of [t.config.storageUrl, nasUrl]) {
      await putFile(u, m.artifactKey, bytes);
      await putFile(u, `${m.artifactKey}.manifest.json`, Buffer.from(JSON.stringify(m)));
    }
    await putFile(nasUrl, pinKeyFor(m.artifactKey), Buffer.from('{}')); // a stale marker
    await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    await t.catalog.addLocation(m.backupId, { target: 'nas', artifactKey: m.artifactKey });
    const local = openStorage(t.config.storageUrl);
    const nas = openStorage(nasUrl);
    const url = `/v1/databases/main/backups/${m.backupId}`;

    const unknown = await t.app.inject({ method: 'DELETE', url: `${url}?target=nas&target=moon`, headers: bearer('write') });
    expect(unknown.statusCode).toBe(404);
    expect(problemOf(unknown).code).toBe('TARGET_NOT_FOUND');
    expect(await nas.head(m.artifactKey)).not.toBeNull();

    const del = await t.app.inject({ method: 'DELETE', url: `${url}?target=nas`, headers: bearer('write') });
    expect(del.statusCode).toBe(204);
    for (const k of [m.artifactKey, `${m.artifactKey}.manifest.json`, pinKeyFor(m.artifactKey)]) expect(await nas.head(k)).toBeNull();
    expect(await local.head(m.artifactKey)).not.toBeNull();
    const rec = (await t.app.inject({ url, headers: bearer('read') })).json() as { status: string; locations: Array<{ target: string; deletedAt: string | null }> };
    expect(rec.status).toBe('available');
    expect(rec.locations.find((l) => l.target === 'nas')!.deletedAt).not.toBeNull();

    const gone = await t.app.inject({ method: 'DELETE', url: `${url}?target=nas`, headers: bearer('write') });
    expect(problemOf(gone).code).toBe('BACKUP_NOT_ON_TARGET');
    expect(await local.head(m.artifactKey)).not.toBeNull();

    const rest = await t.app.inject({ method: 'DELETE', url, headers: bearer('write') });
    expect(rest.statusCode).toBe(204);
    expect(await local.head(m.artifactKey)).toBeNull();
    expect((await t.app.inject({ url, headers: bearer('read') })).json().status).toBe('deleted');
  });

  it('refuses with 409 DATABASE_BUSY while a job holds the database lock, deletes once it is released', async () => {
    const bytes = Buffer.from('y'.repeat(100));
    const m = { ...fakeManifest('main', new Date()), artifact: { sizeBytes: bytes.length, sha256: 'd'.repeat(64) } };
    const storage = openStorage(t.config.storageUrl);
    await putFile(t.config.storageUrl, m.artifactKey, bytes);
    await putFile(t.config.storageUrl, `${m.artifactKey}.manifest.json`, Buffer.from(JSON.stringify(m)));
    await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
    const url = `/v1/databases/main/backups/${m.backupId}`;

    // A "worker": its own connection, the same prefix and lock class as apps/worker.
    const workerRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    try {
      const workerLocks = new DatabaseLocks(workerRedis, t.config.redis.prefix, t.config.worker.lockTtlMs);
      const held = await workerLocks.tryAcquire('main');
      expect(held).not.toBeNull();

      const busy = await t.app.inject({ method: 'DELETE', url, headers: bearer('write') });
      expect(busy.statusCode).toBe(409);
      expect(problemOf(busy).code).toBe('DATABASE_BUSY');
      expect(Number(busy.headers['retry-after'])).toBeGreaterThan(0);
      // Nothing was touched: both objects and the catalog copy are still there, and the
      // worker still owns its lock.
      expect(await storage.head(m.artifactKey)).not.toBeNull();
      expect(await storage.head(`${m.artifactKey}.manifest.json`)).not.toBeNull();
      expect((await t.app.inject({ url, headers: bearer('read') })).json().status).not.toBe('deleted');
      expect(await workerLocks.owner('main')).toBe(held!.token);

      // Another database is not blocked by this lock (the route only locks its own).
      const o = fakeManifest('other', new Date());
      await t.catalog.recordBackup(o, { target: 'local', artifactKey: o.artifactKey });
      await putFile(t.config.storageUrl, o.artifactKey, bytes);
      const otherDel = await t.app.inject({ method: 'DELETE', url: `/v1/databases/other/backups/${o.backupId}`, headers: bearer('write') });
      expect(otherDel.statusCode).toBe(204);

      // A pinned backup keeps answering BACKUP_PINNED (no retry-after), lock or not.
      await t.app.inject({ method: 'PUT', url: `${url}/pin`, headers: bearer('write') });
      const pinned = await t.app.inject({ method: 'DELETE', url, headers: bearer('write') });
      expect(pinned.statusCode).toBe(409);
      expect(problemOf(pinned).code).toBe('BACKUP_PINNED');
      expect(pinned.headers['retry-after']).toBeUndefined();
      await t.app.inject({ method: 'DELETE', url: `${url}/pin`, headers: bearer('write') });

      await held!.release();
      const del = await t.app.inject({ method: 'DELETE', url, headers: bearer('write') });
      expect(del.statusCode).toBe(204);
      expect(await storage.head(m.artifactKey)).toBeNull();
      expect(await storage.head(`${m.artifactKey}.manifest.json`)).toBeNull();
      // The API released its lock: the worker can take the database again.
      const next = await workerLocks.tryAcquire('main');
      expect(next).not.toBeNull();
      await next!.release();
    } finally {
      await workerRedis.quit();
    }
  });

  it('documents 409 with retry-after on DELETE of a backup', async () => {
    const doc = (await t.app.inject({ url: '/docs/json', headers: bearer('read') })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>;
    };
    const del = doc.paths['/v1/databases/{databaseId}/backups/{backupId}']!['delete']!;
    expect(del.responses['409']?.headers?.['retry-after']).toBeDefined();
  });
});

describe('restores and verifies', () => {
  it('enqueues a restore to a new path or in place, validating the path', async () => {
    const [id] = await seed('main', 1);
    const url = '/v1/databases/main/restores';
    const h = { ...bearer('admin'), 'content-type': 'application/json' };
    const noPath = await t.app.inject({ method: 'POST', url, headers: h, payload: JSON.stringify({ backupId: id, mode: 'new' }) });
    expect(problemOf(noPath).code).toBe('RESTORE_TARGET_REQUIRED');
    for (const targetPath of ['relative/x.db', '/tmp/../etc/passwd', '/tmp/a\u0000b']) {
      const res = await t.app.inject({ method: 'POST', url, headers: h, payload: JSON.stringify({ backupId: id, mode: 'new', targetPath }) });
      expect(problemOf(res).code, targetPath).toBe('RESTORE_INVALID_TARGET_PATH');
    }
    const ok = await t.app.inject({ method: 'POST', url, headers: h, payload: JSON.stringify({ backupId: id, mode: 'new', targetPath: '/tmp/restored.db' }) });
    expect(ok.statusCode).toBe(202);
    expect(ok.json().queue).toBe('restore');
    const job = await t.queues.restore.getJob(ok.json().jobId);
    expect(job?.data).toEqual({ databaseId: 'main', backupId: id, mode: 'new', targetPath: '/tmp/restored.db' });
    const inPlace = await t.app.inject({ method: 'POST', url, headers: h, payload: JSON.stringify({ backupId: id, mode: 'replace' }) });
    expect(inPlace.statusCode).toBe(202);

    const unknown = await t.app.inject({ method: 'POST', url, headers: h, payload: JSON.stringify({ backupId: '20260101T000000000Z-deadbeef', mode: 'replace' }) });
    expect(problemOf(unknown).code).toBe('BACKUP_NOT_FOUND');
    const badFrom = await t.app.inject({ method: 'POST', url, headers: h, payload: JSON.stringify({ backupId: id, mode: 'replace', from: 'mars' }) });
    expect(problemOf(badFrom).code).toBe('TARGET_NOT_FOUND');
  });

  it('enqueues a verify of the newest or a given backup', async () => {
    const [id] = await seed('main', 1);
    const h = { ...bearer('write'), 'content-type': 'application/json' };
    const newest = await t.app.inject({ method: 'POST', url: '/v1/databases/main/verifies', headers: h, payload: '{}' });
    expect(newest.statusCode).toBe(202);
    expect((await t.queues.verify.getJob(newest.json().jobId))?.data).toEqual({ databaseId: 'main' });
    const given = await t.app.inject({ method: 'POST', url: '/v1/databases/main/verifies', headers: h, payload: JSON.stringify({ backupId: id }) });
    expect((await t.queues.verify.getJob(given.json().jobId))?.data).toEqual({ databaseId: 'main', backupId: id });
  });
});

describe('schedules', () => {
  const base = '/v1/databases/main/schedules';
  const h = () => ({ ...bearer('write'), 'content-type': 'application/json' });
  const schedulers = async () => (await t.queues.backup.getJobSchedulers(0, -1, true)).map((s) => ({ id: s.key ?? s.id, pattern: s.pattern, tz: s.tz }));

  it('create, list, update, pause, resume, delete: catalog first, then BullMQ', async () => {
    const created = await t.app.inject({ method: 'POST', url: base, headers: h(), payload: JSON.stringify({ scheduleId: 'nightly', cron: '30 2 * * *', timezone: 'Europe/Berlin' }) });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ scheduleId: 'nightly', job: 'backup', paused: false, origin: 'api' });
    expect(created.json().nextRunAt).toMatch(/Z$/);
    const sid = schedulerId({ databaseId: 'main', scheduleId: 'nightly' });
    expect(await schedulers()).toEqual([{ id: sid, pattern: '30 2 * * *', tz: 'Europe/Berlin' }]);

    const dup = await t.app.inject({ method: 'POST', url: base, headers: h(), payload: JSON.stringify({ scheduleId: 'nightly', cron: '30 2 * * *' }) });
    expect(problemOf(dup).code).toBe('SCHEDULE_EXISTS');

    const list = await t.app.inject({ url: '/v1/schedules?databaseId=main', headers: bearer('read') });
    expect(list.json().items.map((s: { scheduleId: string }) => s.scheduleId)).toEqual(['nightly']);
    const one = await t.app.inject({ url: `${base}/nightly`, headers: bearer('read') });
    expect(one.json().timezone).toBe('Europe/Berlin');

    const patched = await t.app.inject({ method: 'PATCH', url: `${base}/nightly`, headers: h(), payload: JSON.stringify({ cron: '0 3 * * *', timezone: 'America/New_York' }) });
    expect(patched.statusCode).toBe(200);
    expect(await schedulers()).toEqual([{ id: sid, pattern: '0 3 * * *', tz: 'America/New_York' }]);

    const paused = await t.app.inject({ method: 'POST', url: `${base}/nightly/pause`, headers: bearer('write') });
    expect(paused.json()).toMatchObject({ paused: true, nextRunAt: null });
    expect(await schedulers()).toEqual([]);
    const resumed = await t.app.inject({ method: 'POST', url: `${base}/nightly/resume`, headers: bearer('write') });
    expect(resumed.json().paused).toBe(false);
    expect(await schedulers()).toHaveLength(1);

    const del = await t.app.inject({ method: 'DELETE', url: `${base}/nightly`, headers: bearer('write') });
    expect(del.statusCode).toBe(204);
    expect(await schedulers()).toEqual([]);
    expect(await t.catalog.getSchedule('main', 'nightly')).toBeNull();
    const gone = await t.app.inject({ url: `${base}/nightly`, headers: bearer('read') });
    expect(problemOf(gone).code).toBe('SCHEDULE_NOT_FOUND');
  });

  it('rejects invalid cron, unknown time zones and too frequent schedules with codes', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ scheduleId: 's1', cron: 'not a cron' }, 'SCHEDULE_INVALID_CRON'],
      [{ scheduleId: 's1', cron: '61 * * * *' }, 'SCHEDULE_INVALID_CRON'],
      [{ scheduleId: 's1', cron: '* * * *' }, 'SCHEDULE_INVALID_CRON'],
      [{ scheduleId: 's1', cron: '0 0 31 2 *' }, 'SCHEDULE_INVALID_CRON'],
      [{ scheduleId: 's1', cron: '0 2 * * *', timezone: 'Mars/Olympus' }, 'SCHEDULE_INVALID_TIMEZONE'],
      [{ scheduleId: 's1', cron: '0 2 * * *', timezone: '../../etc/passwd' }, 'SCHEDULE_INVALID_TIMEZONE'],
      [{ scheduleId: 's1', cron: '* * * * * *' }, 'SCHEDULE_TOO_FREQUENT'],
      [{ scheduleId: 'Bad Id', cron: '0 2 * * *' }, 'VALIDATION_FAILED'],
      [{ scheduleId: 's1', cron: '0 2 * * *', extra: true }, 'VALIDATION_FAILED'],
      // JSON bodies are not coerced: wrong types are refused, not converted.
      [{ scheduleId: 5, cron: '0 2 * * *' }, 'VALIDATION_FAILED'],
      [{ scheduleId: 's1', cron: '0 2 * * *', paused: 'true' }, 'VALIDATION_FAILED'],
      [{ scheduleId: 's1', cron: ['0 2 * * *'] }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of cases) {
      const res = await t.app.inject({ method: 'POST', url: base, headers: h(), payload: JSON.stringify(body) });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(problemOf(res).code, JSON.stringify(body)).toBe(code);
    }
    expect(await t.catalog.listSchedules('main')).toEqual([]);
  });

  it('schedules from the config file can be paused but not redefined or deleted', async () => {
    await t.catalog.upsertSchedule({ databaseId: 'main', scheduleId: 'cfg', job: 'backup', cron: '0 1 * * *', timezone: 'UTC', paused: false, origin: 'config' });
    const patch = await t.app.inject({ method: 'PATCH', url: `${base}/cfg`, headers: h(), payload: JSON.stringify({ cron: '0 5 * * *' }) });
    expect(problemOf(patch).code).toBe('SCHEDULE_FROM_CONFIG');
    const del = await t.app.inject({ method: 'DELETE', url: `${base}/cfg`, headers: bearer('write') });
    expect(problemOf(del).code).toBe('SCHEDULE_FROM_CONFIG');
    const pause = await t.app.inject({ method: 'PATCH', url: `${base}/cfg`, headers: h(), payload: JSON.stringify({ paused: true }) });
    expect(pause.statusCode).toBe(200);
  });
});

describe('client mistakes are 4xx problem+json', () => {
  it('unknown fields, bad JSON, huge bodies, wrong media type, unknown routes, wrong methods', async () => {
    const url = '/v1/databases/main/backups';
    const unknownField = await t.app.inject({ method: 'POST', url, headers: { ...bearer('write'), 'content-type': 'application/json' }, payload: '{"now":true}' });
    expect(unknownField.statusCode).toBe(400);
    expect(problemOf(unknownField).detail).toContain('unknown field "now"');

    for (const u of ['/v1/databases?verbose=1', '/v1/databases/main/backups?sort=asc', '/v1/jobs/backup-x?x=1']) {
      const q = await t.app.inject({ url: u, headers: bearer('read') });
      expect(q.statusCode, u).toBe(400);
      expect(problemOf(q).detail).toContain('unknown field');
    }

    const badJson = await t.app.inject({ method: 'POST', url, headers: { ...bearer('write'), 'content-type': 'application/json' }, payload: '{"at":' });
    expect(badJson.statusCode).toBe(400);
    expect(problemOf(badJson).code).toBe('INVALID_JSON');

    const huge = await t.app.inject({ method: 'POST', url, headers: { ...bearer('write'), 'content-type': 'application/json' }, payload: JSON.stringify({ at: 'x'.repeat(100_000) }) });
    expect(huge.statusCode).toBe(413);
    expect(problemOf(huge).code).toBe('BODY_TOO_LARGE');

    const text = await t.app.inject({ method: 'POST', url, headers: { ...bearer('write'), 'content-type': 'text/plain' }, payload: 'backup please' });
    expect(text.statusCode).toBe(415);
    expect(problemOf(text).code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const notFound = await t.app.inject({ url: '/v1/nothing/here', headers: bearer('read') });
    expect(notFound.statusCode).toBe(404);
    expect(problemOf(notFound).code).toBe('NOT_FOUND');

    const method = await t.app.inject({ method: 'PATCH', url: '/v1/databases/main/backups', headers: bearer('admin') });
    expect(method.statusCode).toBe(405);
    expect(problemOf(method).code).toBe('METHOD_NOT_ALLOWED');
    expect(method.headers.allow).toContain('POST');

    const traversal = await t.app.inject({ url: '/v1/databases/..%2F..%2Fetc%2Fpasswd/backups', headers: bearer('read') });
    expect(traversal.statusCode).toBe(400);
    expect(problemOf(traversal).code).toBe('INVALID_ID');
  });
});

describe('request ids and logs', () => {
  it('echoes x-request-id, puts it on every log line and never logs keys', async () => {
    await t.close();
    const lines: string[] = [];
    t = await startTestApp({}, lines);
    const res = await t.app.inject({ url: '/v1/databases', headers: { ...bearer('read'), 'x-request-id': 'req-abc-123' } });
    expect(res.headers['x-request-id']).toBe('req-abc-123');
    const generated = await t.app.inject({ url: '/v1/databases', headers: { 'x-api-key': 'wrong-key-value-xyz' } });
    expect(generated.statusCode).toBe(401);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const mine = lines.map((l) => JSON.parse(l) as { reqId?: string }).filter((l) => l.reqId === 'req-abc-123');
    expect(mine.length).toBeGreaterThanOrEqual(2);
    const all = lines.join('\n');
    expect(all).not.toContain('read-key-0123');
    expect(all).not.toContain('wrong-key-value-xyz');
  });
});

describe('metrics', () => {
  it('needs a key unless metricsPublic', async () => {
    expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    const ok = await t.app.inject({ url: '/metrics', headers: bearer('read') });
    expect(ok.statusCode).toBe(200);
    // The API runs no jobs: job families have no samples here and are left out.
    expect(ok.body).toContain('mfb_http_request_duration_seconds_count');
    expect(ok.body).not.toContain('mfb_jobs_total');
    await t.app.inject({ url: '/v1/databases/main', headers: bearer('read') });
    await t.app.inject({ url: '/v1/databases/ghost', headers: bearer('read') });
    const again = await t.app.inject({ url: '/metrics', headers: bearer('read') });
    expect(again.body).toMatch(/mfb_http_request_duration_seconds_count\{method="GET",route="\/v1\/databases\/:databaseId",status="2xx"\} 1/);
    expect(again.body).toMatch(/mfb_http_request_duration_seconds_count\{method="GET",route="\/v1\/databases\/:databaseId",status="4xx"\} 1/);
    expect(again.body).not.toContain('ghost');
    await t.close();
    t = await startTestApp({ api: { metricsPublic: true } });
    expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(200);
  });
});

describe('rate limiting', () => {
  it('429 problem+json per key, other keys unaffected', async () => {
    await t.close();
    t = await startTestApp({ api: { rateLimitPerMinute: 3 } });
    for (let i = 0; i < 3; i++) expect((await t.app.inject({ url: '/v1/databases', headers: bearer('read') })).statusCode).toBe(200);
    const limited = await t.app.inject({ url: '/v1/databases', headers: bearer('read') });
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited).code).toBe('RATE_LIMITED');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await t.app.inject({ url: '/v1/databases', headers: bearer('write') })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/health/live' })).statusCode).toBe(200);
  });
});

describe('security headers', () => {
  it('sets helmet headers', async () => {
    const res = await t.app.inject({ url: '/v1/databases', headers: bearer('read') });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBeDefined();
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    const page = await t.app.inject({ url: '/admin/queues', headers: bearer('admin') });
    expect(page.statusCode).toBe(200);
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self' 'unsafe-inline'");
    const problem = await t.app.inject({ url: '/v1/databases/nope', headers: bearer('read') });
    expect(problem.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('load shedding', () => {
  it('answers 503 problem+json while the event loop is saturated', async () => {
    await t.close();
    t = await startTestApp({}, undefined, { maxEventLoopDelayMs: 50 });
    // Keep the event loop busy in 100 ms slices for longer than under-pressure's 1 s sample
    // interval, so its mean event-loop delay exceeds the 50 ms threshold.
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      const slice = Date.now() + 100;
      while (Date.now() < slice) {
        // busy wait on purpose
      }
      await new Promise((r) => setImmediate(r));
    }
    const res = await t.app.inject({ url: '/v1/databases', headers: bearer('read') });
    expect(res.statusCode).toBe(503);
    expect(problemOf(res).code).toBe('OVERLOADED');
    expect(res.headers['retry-after']).toBe('5');
    expect((await t.app.inject({ url: '/health/live' })).statusCode).toBeLessThan(600);
  });
});

describe('dependencies down', () => {
  it('Redis unreachable: enqueue is 503 REDIS_UNAVAILABLE, readiness 503, reads from the catalog still work', async () => {
    const { Redis } = await import('ioredis');
    const { createQueues, closeQueues } = await import('@mfb/jobs');
    const { buildApp } = await import('../src/index.js');
    const { createLogger, createMetrics } = await import('@mfb/observability');
    const dead = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const queues = createQueues(dead, 'mfb-dead');
    const app = await buildApp({ config: t.config, catalog: t.catalog, queues, redis: dead, metrics: createMetrics(), logger: createLogger('api', { level: 'silent' }) });
    try {
      const trig = await app.inject({ method: 'POST', url: '/v1/databases/main/backups', headers: bearer('write') });
      expect(trig.statusCode).toBe(503);
      expect(problemOf(trig).code).toBe('REDIS_UNAVAILABLE');
      const ready = await app.inject({ url: '/health/ready', headers: bearer('read') });
      expect(ready.statusCode).toBe(503);
      expect(problemOf(ready).code).toBe('NOT_READY');
      expect((await app.inject({ url: '/v1/databases/main', headers: bearer('read') })).statusCode).toBe(200);
      // A finished job is still known (from the catalog's history); an unknown one cannot be told apart.
      await t.catalog.recordJob({
        jobId: 'backup-done', queue: 'backup', name: 'backup', databaseId: 'main', state: 'completed', attempts: 1,
        startedAt: '2026-03-01T02:00:00.000Z', finishedAt: '2026-03-01T02:00:05.000Z', error: null, result: null,
      });
      expect((await app.inject({ url: '/v1/jobs/backup-done', headers: bearer('read') })).json().state).toBe('completed');
      expect(problemOf(await app.inject({ url: '/v1/jobs/backup-other', headers: bearer('read') })).code).toBe('REDIS_UNAVAILABLE');
      // Schedules are desired state: stored in the catalog even when they cannot be
      // reconciled into BullMQ right now (the worker's periodic reconcile applies them).
      const created = await app.inject({
        method: 'POST',
        url: '/v1/databases/main/schedules',
        headers: { ...bearer('write'), 'content-type': 'application/json' },
        payload: JSON.stringify({ scheduleId: 'later', cron: '0 4 * * *' }),
      });
      expect(created.statusCode).toBe(201);
      expect(await t.catalog.getSchedule('main', 'later')).toMatchObject({ cron: '0 4 * * *', paused: false });
    } finally {
      await app.close();
      await closeQueues(queues).catch(() => undefined);
      dead.disconnect();
    }
  });
});

describe('catalog rebuild (admin)', () => {
  it('rebuilds the records and pins of the copies on a target; unknown targets and lesser scopes are refused', async () => {
    const { default: Database } = await import('better-sqlite3');
    const { createBackup, writePinMarker } = await import('@mfb/backup');
    const src = join(t.dir, 'rebuild-src.db');
    const db = new Database(src);
    db.exec("CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT); INSERT INTO tx (memo) VALUES ('a'), ('b');");
    db.close();
    const nas = openStorage(t.app.storageFor('nas').url);
    const { manifest } = await createBackup({ databaseId: 'main', sourcePath: src, storage: nas, compression: { algorithm: 'gzip', level: 1 }, tmpDir: join(t.dir, 'tmp') });
    await writePinMarker(nas, manifest.artifactKey, manifest.backupId);

    const denied = await t.app.inject({ method: 'POST', url: '/v1/catalog/rebuild', headers: { ...bearer('write'), 'content-type': 'application/json' }, payload: JSON.stringify({ from: 'nas' }) });
    expect(denied.statusCode).toBe(403);
    const unknown = await t.app.inject({ method: 'POST', url: '/v1/catalog/rebuild', headers: { ...bearer('admin'), 'content-type': 'application/json' }, payload: JSON.stringify({ from: 'moon' }) });
    expect(problemOf(unknown).code).toBe('TARGET_NOT_FOUND');
    expect(await t.catalog.getBackup(manifest.backupId)).toBeNull();

    const res = await t.app.inject({ method: 'POST', url: '/v1/catalog/rebuild', headers: { ...bearer('admin'), 'content-type': 'application/json' }, payload: JSON.stringify({ from: 'nas' }) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ target: 'nas', scanned: 1, added: 1, pinsRestored: 1, skipped: [] });
    const rec = (await t.app.inject({ url: `/v1/databases/main/backups/${manifest.backupId}`, headers: bearer('read') })).json() as { pinned: boolean; locations: Array<{ target: string }> };
    expect(rec.pinned).toBe(true);
    expect(rec.locations.map((l) => l.target)).toEqual(['nas']);
  });
});
