/**
 * `/v1/health` with 1,000 databases: each with 10 backups, an hourly schedule and 12 finished
 * jobs (backups, uploads, a verify; some failed) in the catalog; the API in its own process.
 *
 *   node_modules/.bin/tsx --conditions=@mfb/source bench/observability/health.ts [--dbs 1000] [--seconds 10] [--connections 10] [--cache-seconds 5]
 *
 * Target: p99 <= 50 ms. Reports sequential requests (one at a time) and autocannon with
 * `--connections` concurrent clients. `--cache-seconds 0` computes the report for every request
 * (the default config reuses it for 5 s). The server runs bench/observability/health-server.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { openCatalog } from '@mfb/catalog';
import type { Manifest } from '@mfb/backup';
import { BENCH_KEY, dbIds } from '../api/server.js';
import { fmt, pct, startServer } from '../api/lib.js';
import { benchManifest } from '../lib/manifests.js';

const { values } = parseArgs({
  options: {
    dbs: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    sequential: { type: 'string', default: '300' },
    'cache-seconds': { type: 'string', default: '5' },
  },
});
const N = Number(values.dbs);
const SECONDS = Number(values.seconds);
const CONN = Number(values.connections);
const SEQ = Number(values.sequential);

let seq = 0;
const manifest = (db: string, created: Date): Manifest => benchManifest(db, created, seq++);

const dir = mkdtempSync(join(tmpdir(), 'mfb-bench-health-'));
const catalogPath = join(dir, 'catalog.db');
const prefix = `mfb-bench-health-${randomUUID()}`;
const t0 = performance.now();
{
  const catalog = await openCatalog(catalogPath);
  await catalog.migrate();
  const now = Date.now();
  for (const [i, db] of dbIds(N).entries()) {
    await catalog.upsertSchedule({ databaseId: db, scheduleId: 'hourly', job: 'backup', cron: `${i % 60} * * * *`, timezone: 'UTC', paused: false, origin: 'config' });
    for (let k = 10; k >= 1; k--) {
      const m = manifest(db, new Date(now - k * 3_600_000 + 60_000));
      await catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey, storedAt: m.createdAt });
    }
    for (let k = 12; k >= 1; k--) {
      const name = k === 6 ? 'verify' : k % 2 ? 'backup' : 'upload';
      const at = new Date(now - k * 1_800_000).toISOString();
      await catalog.recordJob({ jobId: `${name}-${db}-${k}`, queue: name, name, databaseId: db, state: k === 3 && i % 10 === 0 ? 'failed' : 'completed', attempts: 1, startedAt: at, finishedAt: at, error: k === 3 && i % 10 === 0 ? 'STORAGE_UNAVAILABLE: simulated' : null, result: null });
    }
  }
  await catalog.close();
}
console.error(`seeded ${N} databases in ${fmt((performance.now() - t0) / 1000, 1)} s`);

const CACHE = values['cache-seconds'];
const server = await startServer(['--prefix', prefix, '--dbs', String(N), '--catalog', catalogPath, '--cache-seconds', CACHE], 'bench/observability/health-server.ts');
try {
  const headers = { authorization: `Bearer ${BENCH_KEY}` };
  // Warm-up (JIT, SQLite page cache, cron cache).
  const statuses = new Map<number, number>();
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${server.url}/v1/health`, { headers });
    const body = (await r.json()) as { databases?: unknown[] };
    if (body.databases?.length !== N) throw new Error(`expected ${N} databases, got ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  const lat: number[] = [];
  for (let i = 0; i < SEQ; i++) {
    const s = performance.now();
    const r = await fetch(`${server.url}/v1/health`, { headers });
    await r.arrayBuffer();
    lat.push(performance.now() - s);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  }
  lat.sort((a, b) => a - b);
  const ac = await autocannon({ url: `${server.url}/v1/health`, connections: CONN, duration: SECONDS, headers });
  // The status page (HTML, same report plus size trends, failures and queues): a few requests.
  const page: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    const r = await fetch(`${server.url}/status`, { headers });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
    page.push(performance.now() - s);
  }
  page.sort((a, b) => a - b);
  const out = {
    when: new Date().toISOString(),
    databases: N,
    cacheSeconds: Number(CACHE),
    cpus: cpus().length,
    loadavg: loadavg().map((x) => fmt(x, 1)).join(' '),
    sequential: { requests: SEQ, p50: fmt(pct(lat, 50)), p99: fmt(pct(lat, 99)), max: fmt(lat.at(-1)!), statuses: Object.fromEntries(statuses) },
    concurrent: { connections: CONN, seconds: SECONDS, requests: ac.requests.total, rps: fmt(ac.requests.average, 0), p50: ac.latency.p50, p99: ac.latency.p99, max: ac.latency.max, non2xx: ac.non2xx, errors: ac.errors },
    statusPage: { requests: page.length, p50: fmt(pct(page, 50)), max: fmt(page.at(-1)!) },
    bodyBytes: Number((await (await fetch(`${server.url}/v1/health`, { headers })).arrayBuffer()).byteLength),
    target: 'p99 <= 50 ms',
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  await server.stop();
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
}
