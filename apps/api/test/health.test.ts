/**
 * `/v1/health`: per-database ok / warning / critical with reasons, from the `health`
 * thresholds (global and per database), against a real catalog, Redis and file storage. Every
 * answer is checked against the OpenAPI document (contract checker).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Catalog, JobHistoryRecord } from '@mfb/catalog';
import { closeQueues } from '@mfb/jobs';
import { createLogger, createMetrics } from '@mfb/observability';
import { openMigratedCatalog, queuesFor } from '@mfb/runtime';
import { testConfig } from '@mfb/testkit';
import { buildApp } from '../src/index.js';
import type { HealthReportView } from '../src/routes/health/schema.js';
import { contractChecker, fakeManifest, KEYS, REDIS_URL } from './helpers.js';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const H = 3600_000;
const ago = (ms: number): Date => new Date(NOW.getTime() - ms);

interface HealthApp {
  app: FastifyInstance;
  catalog: Catalog;
  dir: string;
  get(url?: string): Promise<{ status: number; body: HealthReportView; raw: string }>;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function start(settings: Record<string, unknown>): Promise<HealthApp> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-health-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'backups'), { recursive: true, mode: 0o700 });
  await mkdir(join(dir, 'nas'), { recursive: true, mode: 0o700 });
  const prefix = `mfb-test-${randomUUID()}`;
  const { config } = await testConfig({
    dir,
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
    settings: {
      dataDir: '.',
      targets: [{ name: 'nas', url: './nas' }],
      api: { keys: [{ id: 'reader', key: KEYS.read, scopes: ['read'] }], rateLimitPerMinute: 100_000 },
      ...settings,
      // Every request computes (the tests change the catalog between requests).
      health: { cacheSeconds: 0, ...(settings['health'] as Record<string, unknown> | undefined) },
    },
  });
  const catalog = await openMigratedCatalog(config);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const queues = queuesFor(config, redis);
  const app = await buildApp({ config, catalog, queues, redis, metrics: createMetrics(), logger: createLogger('api', { level: 'silent' }), now: () => NOW }, { maxEventLoopDelayMs: 0 });
  await app.ready();
  cleanups.push(async () => {
    await app.close();
    await closeQueues(queues);
    await redis.quit();
    await catalog.close();
  });
  const checker = contractChecker(app);
  return {
    app,
    catalog,
    dir,
    async get(url = '/v1/health') {
      const res = await app.inject({ url, headers: { authorization: `Bearer ${KEYS.read}` } });
      checker.assert({ method: 'GET', url, status: res.statusCode, headers: res.headers, body: res.payload });
      return { status: res.statusCode, body: res.json() as HealthReportView, raw: res.payload };
    },
  };
}

const db = (id: string, extra: Record<string, unknown> = {}) => ({ id, path: `${id}.db`, ...extra });

function job(databaseId: string, name: string, state: 'completed' | 'failed', finishedAt: Date, error: string | null = null): JobHistoryRecord {
  return { jobId: `${name}-${randomUUID()}`, queue: name, name, databaseId, state, attempts: 1, startedAt: finishedAt.toISOString(), finishedAt: finishedAt.toISOString(), error, result: null };
}

const byId = (r: HealthReportView, id: string) => r.databases.find((d) => d.id === id)!;

describe('/v1/health', () => {
  it('a database whose last backup is too old for its schedule turns critical: 503 with the reason; the others stay ok', async () => {
    const t = await start({
      health: { maxAgeIntervals: 2, diskFreePercent: 0 },
      databases: [db('fresh'), db('stale'), db('unscheduled'), db('fixed', { health: { maxAgeSeconds: 3600 } })],
    });
    for (const id of ['fresh', 'stale']) await t.catalog.upsertSchedule({ databaseId: id, scheduleId: 'hourly', job: 'backup', cron: '0 * * * *', timezone: 'UTC', paused: false, origin: 'api' });
    await t.catalog.recordBackup(fakeManifest('fresh', ago(0.5 * H)), { target: 'local', artifactKey: 'fresh/a' });
    await t.catalog.recordBackup(fakeManifest('stale', ago(3 * H)), { target: 'local', artifactKey: 'stale/a' });
    await t.catalog.recordBackup(fakeManifest('unscheduled', ago(300 * H)), { target: 'local', artifactKey: 'unscheduled/a' });
    // Fixed age of 1 h (per-database override): 50 min is past 75% of it, a warning.
    await t.catalog.recordBackup(fakeManifest('fixed', ago((50 / 60) * H)), { target: 'local', artifactKey: 'fixed/a' });

    const { status, body } = await t.get();
    expect(status).toBe(503);
    expect(body.status).toBe('critical');
    expect(byId(body, 'fresh')).toMatchObject({ status: 'ok', reasons: [], expectedIntervalSeconds: 3600, maxAgeSeconds: 7200, ageSeconds: 1800, nextRunAt: '2026-06-15T13:00:00.000Z' });
    const stale = byId(body, 'stale');
    expect(stale.status).toBe('critical');
    expect(stale.ageSeconds).toBe(3 * 3600);
    expect(stale.reasons).toEqual([{ check: 'backup-age', status: 'critical', message: expect.stringMatching(/last successful backup is 3\.0 h old, more than 2 x the schedule interval/) }]);
    // No schedule and no fixed age: nothing to compare with.
    expect(byId(body, 'unscheduled')).toMatchObject({ status: 'ok', maxAgeSeconds: null });
    expect(byId(body, 'fixed')).toMatchObject({ status: 'warning', maxAgeSeconds: 3600, reasons: [expect.objectContaining({ check: 'backup-age', status: 'warning' })] });

    // A readiness probe is not a health report: Redis and the catalog answer, so it is ready.
    const ready = await t.app.inject({ url: '/health/ready', headers: { authorization: `Bearer ${KEYS.read}` } });
    expect(ready.statusCode).toBe(200);
  });

  it('the last K backups failed -> critical with the error; fewer -> warning; a success clears it', async () => {
    const t = await start({ health: { failedBackups: 3, diskFreePercent: 0 }, databases: [db('main'), db('other'), db('lenient', { health: { failedBackups: 5 } })] });
    const err = 'BACKUP_SOURCE_BUSY: the source database stayed locked';
    for (const id of ['main', 'lenient']) {
      await t.catalog.recordJob(job(id, 'backup', 'completed', ago(10 * H)));
      for (let i = 3; i >= 1; i--) await t.catalog.recordJob(job(id, 'backup', 'failed', ago(i * H), err));
      // Other job kinds in between do not break the run of failures.
      await t.catalog.recordJob(job(id, 'prune', 'completed', ago(0.5 * H)));
    }
    await t.catalog.recordJob(job('other', 'backup', 'failed', ago(H), err));

    const { status, body } = await t.get();
    expect(status).toBe(503);
    expect(byId(body, 'main')).toMatchObject({ status: 'critical', consecutiveFailures: 3, lastError: err, lastAttemptAt: ago(H).toISOString() });
    expect(byId(body, 'main').reasons).toEqual([{ check: 'failures', status: 'critical', message: `the last 3 backups failed (limit 3): ${err}` }]);
    expect(byId(body, 'other')).toMatchObject({ status: 'warning', consecutiveFailures: 1 });
    expect(byId(body, 'lenient')).toMatchObject({ status: 'warning', consecutiveFailures: 3 });

    await t.catalog.recordJob(job('main', 'backup', 'completed', ago(0.1 * H)));
    const after = await t.get();
    expect(byId(after.body, 'main')).toMatchObject({ status: 'ok', consecutiveFailures: 0, lastError: null });
    expect(after.status).toBe(200);
    expect(after.body.status).toBe('warning');
  });

  it('no verified restore for M days -> warning, for 2M days -> critical', async () => {
    const t = await start({ health: { verifyMaxAgeDays: 7, diskFreePercent: 0 }, databases: [db('recent'), db('old'), db('ancient'), db('never')] });
    await t.catalog.recordJob(job('recent', 'verify', 'completed', ago(24 * H)));
    await t.catalog.recordJob(job('old', 'verify', 'completed', ago(10 * 24 * H)));
    await t.catalog.recordJob(job('old', 'verify', 'failed', ago(24 * H), 'VERIFY_FAILED: integrity check'));
    await t.catalog.recordJob(job('ancient', 'verify', 'completed', ago(20 * 24 * H)));
    const { body } = await t.get();
    expect(byId(body, 'recent')).toMatchObject({ status: 'ok', lastVerifiedAt: ago(24 * H).toISOString() });
    expect(byId(body, 'old')).toMatchObject({ status: 'warning', reasons: [expect.objectContaining({ check: 'verify-age', status: 'warning' })] });
    expect(byId(body, 'ancient').status).toBe('critical');
    expect(byId(body, 'never')).toMatchObject({ status: 'warning', lastVerifiedAt: null });
  });

  it('a restore drill that succeeded counts as a verified restore (the newest of drills and verify jobs)', async () => {
    const t = await start({ health: { verifyMaxAgeDays: 7, diskFreePercent: 0 }, databases: [db('drilled'), db('both'), db('failing')] });
    await t.catalog.recordDrill({ databaseId: 'drilled', target: 'local', at: ago(2 * 24 * H).toISOString(), outcome: 'ok', backupId: 'b1' });
    await t.catalog.recordJob(job('both', 'verify', 'completed', ago(20 * 24 * H)));
    await t.catalog.recordDrill({ databaseId: 'both', target: 'offsite', at: ago(3 * 24 * H).toISOString(), outcome: 'ok', backupId: 'b2' });
    // A failed drill is not a verified restore.
    await t.catalog.recordDrill({ databaseId: 'failing', target: 'local', at: ago(24 * H).toISOString(), outcome: 'failed', backupId: 'b3', errorCode: 'BACKUP_CHECKSUM_MISMATCH', error: 'artifact checksum' });
    const { body } = await t.get();
    expect(byId(body, 'drilled')).toMatchObject({ status: 'ok', lastVerifiedAt: ago(2 * 24 * H).toISOString() });
    expect(byId(body, 'both')).toMatchObject({ status: 'ok', lastVerifiedAt: ago(3 * 24 * H).toISOString() });
    expect(byId(body, 'failing')).toMatchObject({ status: 'warning', lastVerifiedAt: null });
  });

  it('low free disk space on the scratch and local volumes, and an unreachable target, are critical', async () => {
    // Any real volume has less than 99% free.
    const t = await start({ health: { diskFreePercent: 99, targetProbeCacheSeconds: 0 }, databases: [db('main', { targets: ['nas'] }), db('solo')] });
    const first = await t.get();
    let body = first.body;
    expect(first.status).toBe(503);
    expect(body.volumes.map((v) => [v.name, v.status])).toEqual([
      ['scratch', 'critical'],
      ['local', 'critical'],
    ]);
    expect(body.volumes[0]!.freePercent).toBeLessThan(99);
    expect(body.targets).toEqual([{ name: 'nas', status: 'ok', checkedAt: expect.any(String), error: null }]);

    // The target's directory replaced by a file: the probe fails, and the database using it is critical.
    await rm(join(t.dir, 'nas'), { recursive: true });
    await writeFile(join(t.dir, 'nas'), 'not a directory');
    // Probe cache off: this request probes again.
    ({ body } = await t.get());
    expect(body.targets[0]).toMatchObject({ name: 'nas', status: 'unreachable' });
    expect(byId(body, 'main').reasons).toContainEqual(expect.objectContaining({ check: 'target', status: 'critical', message: expect.stringContaining('target nas is unreachable') }));
    expect(byId(body, 'solo').reasons.some((r) => r.check === 'target')).toBe(false);
  });

  it('is described in the OpenAPI document: report schema for 200 and 503', async () => {
    const t = await start({ databases: [db('main')] });
    const doc = t.app.swagger() as unknown as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> }>> };
    const op = doc.paths['/v1/health']!['get']!;
    expect(op.operationId).toBe('health');
    const schema = op.responses['200']!.content!['application/json']!.schema as { properties: Record<string, unknown>; required: string[] };
    expect(schema.required).toEqual(expect.arrayContaining(['status', 'checkedAt', 'databases', 'volumes', 'targets']));
    const dbItem = (schema.properties['databases'] as { items: { properties: Record<string, unknown>; required: string[] } }).items;
    expect(dbItem.required).toEqual(expect.arrayContaining(['id', 'status', 'reasons', 'lastSuccessAt', 'nextRunAt', 'consecutiveFailures', 'lastVerifiedAt']));
    expect(op.responses['503']!.content!['application/json']!.schema).toEqual(schema);
    const { status, body } = await t.get();
    expect(status).toBe(200);
    expect(body.databases).toEqual([expect.objectContaining({ id: 'main', status: 'ok' })]);
  });
});
