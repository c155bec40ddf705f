/**
 * Listing benchmark: a page of 50 backups out of 100,000 in the catalog
 * (GET /v1/databases/:id/backups?limit=50[&cursor=...]), first pages and deep pages.
 *
 *   node_modules/.bin/tsx bench/api/list.ts [--backups 100000] [--seconds 10]
 *
 * Target: p99 <= 10 ms.
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
import { createClient } from '@mfb/client';
import type { Manifest } from '@mfb/backup';
import { BENCH_KEY } from './server.js';
import { fmt, pct, startServer } from './lib.js';
import { minutelyManifest } from '../lib/manifests.js';

const { values } = parseArgs({
  options: {
    backups: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
  },
});
const N = Number(values.backups);
const SECONDS = Number(values.seconds);
const CONN = Number(values.connections);
const DB = 'db-0000';

const manifest = (i: number): Manifest => minutelyManifest(i, DB);

const dir = mkdtempSync(join(tmpdir(), 'mfb-bench-list-'));
const catalogPath = join(dir, 'catalog.db');
const prefix = `mfb-bench-list-${randomUUID()}`;
const t0 = performance.now();
{
  const catalog = await openCatalog(catalogPath);
  await catalog.migrate();
  const BATCH = 500;
  for (let i = 0; i < N; i += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => {
        const m = manifest(i + j);
        return catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey, storedAt: m.createdAt });
      }),
    );
  }
  await catalog.close();
}
const seedSeconds = (performance.now() - t0) / 1000;
console.error(`seeded ${N} backups in ${fmt(seedSeconds, 1)} s`);

const server = await startServer(['--prefix', prefix, '--dbs', '1', '--catalog', catalogPath]);
try {
  const client = createClient({ baseUrl: server.url, apiKey: BENCH_KEY });
  // Cursors at increasing depths: walk the first 2,000 pages (all 100,000 rows).
  const cursors: string[] = [];
  let cursor: string | undefined;
  const walkStart = performance.now();
  let pages = 0;
  do {
    const page = await client.listBackups(DB, { limit: 50, ...(cursor ? { cursor } : {}) });
    pages++;
    cursor = page.nextCursor ?? undefined;
    if (cursor) cursors.push(cursor);
  } while (cursor);
  const walkMs = performance.now() - walkStart;
  console.error(`walked ${pages} pages in ${fmt(walkMs / 1000, 1)} s`);

  // Sequential latency, one request at a time: first page and random deep pages.
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const c = Math.random() < 0.2 ? undefined : cursors[Math.floor(Math.random() * cursors.length)];
    const s = performance.now();
    const page = await client.listBackups(DB, { limit: 50, ...(c ? { cursor: c } : {}) });
    lat.push(performance.now() - s);
    if (page.items.length === 0) throw new Error('empty page');
  }
  lat.sort((a, b) => a - b);

  const paths = [`/v1/databases/${DB}/backups?limit=50`, ...cursors.map((c) => `/v1/databases/${DB}/backups?limit=50&cursor=${encodeURIComponent(c)}`)];
  const ac = await autocannon({
    url: server.url,
    connections: CONN,
    duration: SECONDS,
    requests: [
      {
        method: 'GET',
        headers: { authorization: `Bearer ${BENCH_KEY}` },
        setupRequest: (req) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)]! }),
      },
    ],
  });
  const seqP99 = pct(lat, 99);
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg1: loadavg()[0], node: process.version },
    backups: N,
    seedSeconds,
    sequential: { requests: lat.length, p50: pct(lat, 50), p99: seqP99, max: lat[lat.length - 1] },
    autocannon: { connections: CONN, rps: ac.requests.average, p50: ac.latency.p50, p99: ac.latency.p99, non2xx: ac.non2xx },
  };
  console.log(JSON.stringify(out, null, 2));
  console.log(`
| run | requests | req/s | p50 ms | p99 ms |
| --- | ---: | ---: | ---: | ---: |
| sequential client (1 in flight), random page depth | ${lat.length} | ${fmt(lat.length / SECONDS, 0)} | ${fmt(pct(lat, 50))} | ${fmt(seqP99)} |
| autocannon ${CONN} connections, random page depth | ${ac.requests.total} | ${fmt(ac.requests.average, 0)} | ${ac.latency.p50} | ${ac.latency.p99} |

target p99 <= 10 ms (sequential): ${seqP99 <= 10 ? 'met' : 'MISSED'}; non-2xx: ${ac.non2xx}`);
} finally {
  await server.stop();
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
}
