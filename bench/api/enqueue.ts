/**
 * Enqueue benchmark: the trigger route (POST /v1/databases/:id/backups) under autocannon,
 * 50 connections, 1,000 distinct databases, 10 s, against raw concurrent `queue.add` from one
 * process (50 in flight) on the same Redis, in the same run.
 *
 *   node_modules/.bin/tsx bench/api/enqueue.ts [--seconds 10] [--connections 50] [--dbs 1000]
 *
 * Target: API throughput >= 0.5 x raw, API p99 <= 25 ms.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { backupNowDedupId, closeQueues, createQueues, newJobId } from '@mfb/jobs';
import { BENCH_KEY, dbIds } from './server.js';
import { fmt, pct, startServer } from './lib.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    dbs: { type: 'string', default: '1000' },
  },
});
const SECONDS = Number(values.seconds);
const CONN = Number(values.connections);
const DBS = dbIds(Number(values.dbs));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const pick = () => DBS[Math.floor(Math.random() * DBS.length)]!;

async function cleanup(redis: Redis, prefix: string) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** `CONN` concurrent loops of `queue.add` for `seconds`; per-add latency in ms. */
async function raw(prefix: string, seconds: number, dedup: boolean) {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const queues = createQueues(redis, prefix);
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONN }, async () => {
      while (performance.now() < end) {
        const databaseId = pick();
        const t0 = performance.now();
        await queues.backup.add('backup', { databaseId, trigger: 'api' }, {
          jobId: newJobId('backup'),
          ...(dedup ? { deduplication: { id: backupNowDedupId(databaseId) } } : {}),
        });
        lat.push(performance.now() - t0);
      }
    }),
  );
  await closeQueues(queues);
  await cleanup(redis, prefix);
  await redis.quit();
  lat.sort((a, b) => a - b);
  return { ops: lat.length / seconds, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function api(url: string, seconds: number) {
  const result = await autocannon({
    url,
    connections: CONN,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${BENCH_KEY}` },
        setupRequest: (req) => ({ ...req, path: `/v1/databases/${pick()}/backups` }),
      },
    ],
  });
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'mfb-bench-api-'));
const apiPrefix = `mfb-bench-api-${randomUUID()}`;
const server = await startServer(['--prefix', apiPrefix, '--dbs', String(DBS.length), '--catalog', join(dir, 'catalog.db')]);
const redis = new Redis(REDIS_URL);
try {
  console.error(`warm-up: raw 2 s, API 3 s`);
  await raw(`mfb-bench-raw-${randomUUID()}`, 2, false);
  await api(server.url, 3);
  await cleanup(redis, apiPrefix);

  console.error(`raw queue.add: ${CONN} in flight, ${SECONDS} s`);
  const r = await raw(`mfb-bench-raw-${randomUUID()}`, SECONDS, false);
  console.error(`raw queue.add with the dedup option the route uses: ${SECONDS} s`);
  const rd = await raw(`mfb-bench-raw-${randomUUID()}`, SECONDS, true);
  console.error(`API trigger route: autocannon ${CONN} connections, ${DBS.length} databases, ${SECONDS} s`);
  const a = await api(server.url, SECONDS);
  const waiting = await redis.zcard(`${apiPrefix}:backup:wait`).catch(() => -1);
  const ratio = a.rps / r.ops;
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg1: loadavg()[0], node: process.version },
    raw: r,
    rawDedup: rd,
    api: a,
    ratio,
    targets: { ratioOk: ratio >= 0.5, p99Ok: a.p99 <= 25 },
  };
  console.log(JSON.stringify(out, null, 2));
  console.log(`
| run | ops/s | p50 ms | p99 ms |
| --- | ---: | ---: | ---: |
| raw \`queue.add\` (${CONN} in flight, 1 process) | ${fmt(r.ops, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} |
| raw \`queue.add\` + deduplication option | ${fmt(rd.ops, 0)} | ${fmt(rd.p50)} | ${fmt(rd.p99)} |
| API \`POST /v1/databases/:id/backups\` (autocannon, ${CONN} conns) | ${fmt(a.rps, 0)} | ${fmt(a.p50)} | ${fmt(a.p99)} |

ratio API / raw = ${fmt(ratio)} (target >= 0.5: ${ratio >= 0.5 ? 'met' : 'MISSED'}); API p99 = ${a.p99} ms (target <= 25 ms: ${a.p99 <= 25 ? 'met' : 'MISSED'}); non-2xx = ${a.non2xx}, errors = ${a.errors}; jobs waiting after the run: ${waiting}`);
} finally {
  await server.stop();
  await cleanup(redis, apiPrefix);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
}
