/**
 * Host-bound jobs (docs/scaling.md): worker processes that declare different hosts
 * (`MFB_HOST`) share one Redis and one catalog. Backups and restore `replace` of a database
 * with a `host` run only on a worker of that host; uploads, prunes, verifies and restores to a
 * new file run on any worker; no two jobs of one database overlap. A host without a live
 * worker shows in `/v1/health` and in `mfb_host_workers`.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { JOB_NAMES, closeQueues, createRedis, enqueue, type Queues } from '@mfb/jobs';
import { openMigratedCatalog, queuesFor } from '@mfb/runtime';
import { freePort, testConfig as kitConfig, distNode } from '@mfb/testkit';
import { REDIS_URL, ROOT, finished, idle, producerQueues, spawnWorker, stopAll, tempDir, testConfig, waitUntil, type WorkerProc } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

function makeDb(path: string, rows: number): void {
  const db = new Database(path);
  db.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, memo TEXT)');
  const ins = db.prepare('INSERT INTO tx (memo) VALUES (?)');
  for (let i = 0; i < rows; i++) ins.run(`payment ${i}`);
  db.close();
}

/** Worker processes serving `host`, ready (their record file gets one line per job). */
async function workersOn(host: string, count: number, file: string, record: string): Promise<WorkerProc[]> {
  const ws = Array.from({ length: count }, () => spawnWorker(file, [`--test-only-record=${record}`], { MFB_HOST: host }));
  cleanups.push(() => stopAll(ws));
  await Promise.all(ws.map((w) => w.waitForLog((l) => l.msg === 'worker ready')));
  return ws;
}

interface Run {
  jobId: string;
  queue: string;
  queueName: string;
  host: string;
  databaseId: string;
  start: number;
  end: number;
  pid: number;
  outcome: string;
}

async function completedCount(queues: Queues): Promise<number> {
  let n = 0;
  for (const q of queues.all()) n += (await q.getJobCounts('completed')).completed ?? 0;
  return n;
}

describe('host-bound jobs', () => {
  it('3 workers on 2 hosts: every backup and restore replace runs on its database host, the other jobs on both hosts, never two of one database at once', { timeout: 180_000 }, async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const hostOf: Record<string, string | undefined> = { a1: 'alpha', a2: 'alpha', b1: 'beta', b2: 'beta', any: undefined };
    const dbs = Object.entries(hostOf).map(([id, host]) => ({ id, path: join(tmp.dir, `${id}.db`), ...(host ? { host } : {}), targets: ['nas'], keepLast: 3 }));
    for (const d of dbs) makeDb(d.path, 200);
    const { config, file } = await testConfig({ dir: tmp.dir, databases: dbs, targets: ['nas'], localKeepLast: 3, concurrency: 2 });
    const record = join(tmp.dir, 'runs.jsonl');
    const alpha = await workersOn('alpha', 2, file, record);
    const beta = await workersOn('beta', 1, file, record);
    const hostOfPid = new Map([...alpha.map((w) => [w.pid, 'alpha'] as const), ...beta.map((w) => [w.pid, 'beta'] as const)]);

    const producer = producerQueues(config);
    cleanups.push(() => producer.dispose());
    const { queues } = producer;

    // A stream of backups (each chains an upload to nas and prunes), then verifies, restores
    // over the live file (bound) and restores to new files (not bound).
    const rounds = 3;
    const backupResults = new Map<string, string>();
    for (let round = 0; round < rounds; round++) {
      const jobs = await Promise.all(dbs.map((d) => enqueue(queues, 'backup', { databaseId: d.id, trigger: 'api' })));
      // A bound database's backup went to its host's queue; the unbound one to the shared queue.
      expect(jobs.map((j) => j.queueName)).toEqual(['backup@alpha', 'backup@alpha', 'backup@beta', 'backup@beta', 'backup']);
      for (const j of jobs) {
        const done = await finished(queues, j);
        expect(done.failedReason ?? '', `backup ${j.id} of ${j.data.databaseId}`).toBe('');
        backupResults.set(j.data.databaseId, (done.returnvalue as { backupId: string }).backupId);
      }
    }
    const replaceIds = new Set<string>();
    for (let i = 0; i < 4; i++) {
      for (const d of dbs) await enqueue(queues, 'verify', { databaseId: d.id });
    }
    for (const d of dbs) {
      const backupId = backupResults.get(d.id)!;
      const r = await enqueue(queues, 'restore', { databaseId: d.id, backupId, mode: 'replace' });
      replaceIds.add(String(r.id));
      expect(r.queueName).toBe(d.host ? `restore@${d.host}` : 'restore');
      await enqueue(queues, 'restore', { databaseId: d.id, backupId, mode: 'new', targetPath: join(tmp.dir, `restored-${d.id}.db`) });
    }
    await idle(queues);
    const catalog = await openMigratedCatalog(config);
    cleanups.push(() => catalog.close());
    // Each backup chained one upload; everything finished.
    const expected = dbs.length * rounds * 2 + dbs.length * 4 + dbs.length * 2;
    await waitUntil(async () => (await completedCount(queues)) >= expected, 60_000, 'every job completed');
    for (const q of queues.all()) expect((await q.getJobCounts('failed')).failed, q.name).toBe(0);

    const runs = (await readFile(record, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Run)
      .filter((r) => r.outcome === 'completed');
    // The record's host is the worker's own `worker.host`, and it is the one we started it with.
    for (const r of runs) expect(r.host, `pid ${r.pid}`).toBe(hostOfPid.get(r.pid));

    const bound = runs.filter((r) => r.queue === 'backup' || replaceIds.has(r.jobId));
    expect(bound.filter((r) => r.queue === 'backup')).toHaveLength(dbs.length * rounds);
    expect(bound.filter((r) => r.queue === 'restore')).toHaveLength(dbs.length);
    for (const r of bound) {
      const want = hostOf[r.databaseId];
      if (want !== undefined) expect({ job: `${r.queue} ${r.jobId}`, db: r.databaseId, ranOn: r.host }).toEqual({ job: `${r.queue} ${r.jobId}`, db: r.databaseId, ranOn: want });
    }

    // Uploads, prunes, verifies and restores to new files ran on workers of both hosts,
    // including databases of the other host.
    const free = runs.filter((r) => !bound.includes(r));
    expect(free.length).toBeGreaterThanOrEqual(dbs.length * (rounds + 4 + 1));
    expect(new Set(free.map((r) => r.host))).toEqual(new Set(['alpha', 'beta']));
    expect(free.some((r) => r.host !== hostOf[r.databaseId] && hostOf[r.databaseId] !== undefined)).toBe(true);
    for (const n of JOB_NAMES) expect(runs.some((r) => r.queue === n), n).toBe(true);

    // Per-database serialization holds across the host and shared queues.
    const byDb = new Map<string, Run[]>();
    for (const r of runs) byDb.set(r.databaseId, [...(byDb.get(r.databaseId) ?? []), r]);
    for (const [db, list] of byDb) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 1; i < list.length; i++) expect(list[i]!.start, `${db}: ${list[i]!.queue} started before ${list[i - 1]!.queue} ended`).toBeGreaterThanOrEqual(list[i - 1]!.end);
    }

    // The catalog has every backup (3 per database) and the restores' history.
    for (const d of dbs) {
      const history = await catalog.listJobs({ databaseId: d.id, limit: 100 });
      expect(history.filter((j) => j.name === 'backup' && j.state === 'completed'), d.id).toHaveLength(rounds);
    }
  });

  it('a schedule of a bound database lives in its host queue, and moves when the database changes host', { timeout: 60_000 }, async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const schedules = [{ id: 'nightly', cron: '0 3 * * *', timezone: 'UTC', job: 'backup' as const, paused: false }];
    const base = { dir: tmp.dir, targets: [] };
    const one = await testConfig({ ...base, databases: [{ id: 'm1', path: join(tmp.dir, 'm1.db'), schedules }] });
    const redis = createRedis(one.config.redis, 'producer');
    cleanups.push(async () => redis.disconnect());
    const catalog = await openMigratedCatalog(one.config);
    cleanups.push(() => catalog.close());
    await catalog.upsertSchedule({ databaseId: 'm1', scheduleId: 'nightly', job: 'backup', cron: '0 3 * * *', timezone: 'UTC', paused: false, origin: 'config' });
    const schedulersOf = async (queues: Queues): Promise<Record<string, string[]>> =>
      Object.fromEntries(
        await Promise.all(
          queues
            .all()
            .filter((q) => q.name.startsWith('backup'))
            .map(async (q) => [q.name, (await q.getJobSchedulers(0, -1, true)).map((s) => s.key ?? s.id ?? '')] as const),
        ),
      );
    const { reconcileSchedules } = await import('@mfb/jobs');

    // Unbound: the shared queue, as before host-bound jobs.
    const unbound = queuesFor(one.config, redis);
    await reconcileSchedules(unbound, await catalog.listSchedules());
    expect(await schedulersOf(unbound)).toEqual({ backup: ['mfb.m1.nightly'] });
    await closeQueues(unbound);

    // Bound to alpha: moved out of the shared queue into backup@alpha.
    const two = await testConfig({ ...base, databases: [{ id: 'm1', path: join(tmp.dir, 'm1.db'), host: 'alpha', schedules }] });
    const onAlpha = queuesFor(two.config, redis);
    await reconcileSchedules(onAlpha, await catalog.listSchedules());
    expect(await schedulersOf(onAlpha)).toEqual({ backup: [], 'backup@alpha': ['mfb.m1.nightly'] });
    await closeQueues(onAlpha);

    // Moved to beta (alpha no longer in the config): taken out of backup@alpha too.
    const three = await testConfig({ ...base, databases: [{ id: 'm1', path: join(tmp.dir, 'm1.db'), host: 'beta', schedules }] });
    const onBeta = queuesFor(three.config, redis);
    await reconcileSchedules(onBeta, await catalog.listSchedules());
    const alphaQueue = onBeta.onHost('backup', 'alpha');
    expect(await schedulersOf(onBeta)).toEqual({ backup: [], 'backup@alpha': [], 'backup@beta': ['mfb.m1.nightly'] });
    expect(await alphaQueue.getJobSchedulers()).toEqual([]);
    for (const q of onBeta.all()) await q.obliterate({ force: true }).catch(() => undefined);
    await redis.del(`${three.config.redis.prefix}:mfb:host-queues`);
    await closeQueues(onBeta);
  });

  it('a backup queued on the shared queue before its database named a host is moved to that host and runs there', { timeout: 90_000 }, async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const path = join(tmp.dir, 'mv.db');
    makeDb(path, 50);
    const { config, file } = await testConfig({ dir: tmp.dir, databases: [{ id: 'mv', path, host: 'beta' }] });
    const record = join(tmp.dir, 'runs.jsonl');
    await workersOn('alpha', 1, file, record);
    const producer = producerQueues(config);
    cleanups.push(() => producer.dispose());
    // As a producer with the old config (no host) queued it.
    const old = await producer.queues.backup.add('backup', { databaseId: 'mv', trigger: 'api' }, { jobId: 'backup-queued-before' });
    await waitUntil(async () => (await old.getState()) === 'completed', 30_000, 'the shared-queue job hands over');
    const moved = await producer.queues.onHost('backup', 'beta').getJob('backup-queued-before');
    expect(moved?.data).toEqual({ databaseId: 'mv', trigger: 'api' });
    // Nobody serves beta yet: it waits. A beta worker starts and runs it.
    expect(await moved!.getState()).toBe('waiting');
    await workersOn('beta', 1, file, record);
    await waitUntil(async () => (await moved!.getState()) === 'completed', 60_000, 'the moved backup runs on beta');
    const runs = (await readFile(record, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Run);
    // It ran once, on beta (the prune it chains may run anywhere).
    expect(runs.filter((r) => r.queue === 'backup').map((r) => [r.queueName, r.host, r.outcome])).toEqual([['backup@beta', 'beta', 'completed']]);
  });

  it('a database whose host has no live worker shows in /v1/health and mfb_host_workers; a live one does not', { timeout: 150_000 }, async () => {
    const tmp = await tempDir();
    cleanups.push(() => tmp.dispose());
    const dbs = [
      { id: 'onalpha', path: './a.db', host: 'alpha' },
      { id: 'ongamma', path: './g.db', host: 'gamma' },
      { id: 'anywhere', path: './u.db' },
    ];
    for (const d of dbs) makeDb(join(tmp.dir, d.path), 10);
    const apiPort = await freePort();
    const { file } = await kitConfig({
      dir: tmp.dir,
      redisUrl: REDIS_URL,
      settings: {
        databases: dbs.map((d) => ({ ...d, schedules: [] })),
        health: { cacheSeconds: 0 },
        api: { port: apiPort, keys: [{ id: 'test', key: KEY, scopes: ['read'] }] },
        log: { level: 'info' },
      },
    });
    const [worker] = await workersOn('alpha', 1, file, join(tmp.dir, 'runs.jsonl'));
    const ready = await worker!.waitForLog((l) => l.msg === 'worker ready');
    expect(ready['host']).toBe('alpha');

    const cmd = distNode(join(ROOT, 'apps/api/src/main.ts'), ['--config', file]);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'REDIS_URL' && !k.startsWith('MFB_')));
    let apiOut = '';
    const api = spawn(cmd.command, cmd.args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    api.stdout.on('data', (b: Buffer) => (apiOut += b.toString()));
    api.stderr.on('data', (b: Buffer) => (apiOut += b.toString()));
    cleanups.push(async () => {
      if (api.exitCode !== null) return;
      const exited = new Promise((r) => api.once('exit', r));
      api.kill('SIGKILL');
      await exited;
    });
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${apiPort}/health/live`).catch(() => null))?.ok, 90_000, 'API up').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${apiOut.slice(-1000)}`);
    });
    const health = async (): Promise<Record<string, Array<{ check: string; status: string; message: string }>>> => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/health`, { headers: { authorization: `Bearer ${KEY}` } });
      const body = (await res.json()) as { databases: Array<{ id: string; reasons: Array<{ check: string; status: string; message: string }> }> };
      return Object.fromEntries(body.databases.map((d) => [d.id, d.reasons.filter((r) => r.check === 'host')]));
    };
    const first = await health();
    expect(first['onalpha']).toEqual([]);
    expect(first['anywhere']).toEqual([]);
    expect(first['ongamma']).toEqual([expect.objectContaining({ check: 'host', status: 'warning', message: expect.stringContaining('no live worker serves host gamma') })]);

    const metrics = await (await fetch(`http://127.0.0.1:${Number(ready['metricsPort'])}/metrics`)).text();
    expect(metrics).toMatch(/^mfb_host_workers\{host="alpha"\} 1$/m);
    expect(metrics).toMatch(/^mfb_host_workers\{host="gamma"\} 0$/m);

    // The alpha worker stops (gracefully: its liveness entry goes with it): alpha is unserved too.
    worker!.kill('SIGTERM');
    await worker!.exited;
    const after = await health();
    expect(after['onalpha']).toEqual([expect.objectContaining({ check: 'host', message: expect.stringContaining('host alpha') })]);
    expect(after['anywhere']).toEqual([]);
  });
});

const KEY = 'hosts-test-key-0123456789abcdef';
