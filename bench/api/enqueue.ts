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
    rounds: { type: 'string', default: '3' },
  },
});
const ROUNDS = Number(values.rounds);
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
const barePrefix = `mfb-bench-bare-${randomUUID()}`;
const bare = await startServer(['--prefix', barePrefix], 'bench/api/bare-server.ts');
const redis = new Redis(REDIS_URL);
try {
  console.error(`warm-up: raw 2 s, API 3 s`);
  await raw(`mfb-bench-raw-${randomUUID()}`, 2, false);
  await api(server.url, 3);
  await api(bare.url, 2);
  await cleanup(redis, barePrefix);
  await cleanup(redis, apiPrefix);

  // The machine is shared: alternate reference and API runs and report every round.
  const rounds: Array<{ raw: Awaited<ReturnType<typeof raw>>; rawDedup: Awaited<ReturnType<typeof raw>>; api: Awaited<ReturnType<typeof api>>; bare: Awaited<ReturnType<typeof api>>; load: number }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    console.error(`round ${i + 1}/${ROUNDS}: raw queue.add (${CONN} in flight), raw + dedup option, API (autocannon ${CONN} connections, ${DBS.length} databases), ${SECONDS} s each`);
    const r = await raw(`mfb-bench-raw-${randomUUID()}`, SECONDS, false);
    const rd = await raw(`mfb-bench-raw-${randomUUID()}`, SECONDS, true);
    const a = await api(server.url, SECONDS);
    const b = await api(bare.url, SECONDS);
    rounds.push({ raw: r, rawDedup: rd, api: a, bare: b, load: loadavg()[0] ?? NaN });
  }
  const waiting = await redis.llen(`${apiPrefix}:backup:wait`).catch(() => -1);
  const ratios = rounds.map((x) => x.api.rps / x.raw.ops).sort((a, b) => a - b);
  const p99s = rounds.map((x) => x.api.p99).sort((a, b) => a - b);
  const medianRatio = ratios[Math.floor(ratios.length / 2)]!;
  const medianP99 = p99s[Math.floor(p99s.length / 2)]!;
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    rounds,
    medianRatio,
    medianP99,
    targets: { ratioOk: medianRatio >= 0.5, p99Ok: medianP99 <= 25 },
  };
  console.log(JSON.stringify(out, null, 2));
  console.log(`
| round | raw \`queue.add\` ops/s (p99 ms) | raw + dedup ops/s (p99 ms) | bare Fastify + enqueueBackupNow req/s (p99 ms) | API req/s | API p50 ms | API p99 ms | ratio API/raw | ratio bare/raw | load avg |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rounds.map((x, i) => `| ${i + 1} | ${fmt(x.raw.ops, 0)} (${fmt(x.raw.p99)}) | ${fmt(x.rawDedup.ops, 0)} (${fmt(x.rawDedup.p99)}) | ${fmt(x.bare.rps, 0)} (${x.bare.p99}) | ${fmt(x.api.rps, 0)} | ${x.api.p50} | ${x.api.p99} | ${fmt(x.api.rps / x.raw.ops)} | ${fmt(x.bare.rps / x.raw.ops)} | ${fmt(x.load)} |`).join('\n')}

median ratio API / raw = ${fmt(medianRatio)} (target >= 0.5: ${medianRatio >= 0.5 ? 'met' : 'MISSED'}); median API p99 = ${medianP99} ms (target <= 25 ms: ${medianP99 <= 25 ? 'met' : 'MISSED'}); non-2xx = ${rounds.reduce((n, x) => n + x.api.non2xx, 0)}, errors = ${rounds.reduce((n, x) => n + x.api.errors, 0)}; jobs waiting after the runs: ${waiting} (deduplicated: one per database)`);
} finally {
  await server.stop();
  await bare.stop();
  await cleanup(redis, barePrefix);
  await cleanup(redis, apiPrefix);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
}
