/**
 * Queue-overhead benchmark: jobs per second through our worker with a no-op engine
 * (validation, per-database lock, temp cleanup, chaining backup -> prune, catalog history,
 * metrics, logs) against raw BullMQ no-op jobs, in the same run, one process each, same
 * concurrency.
 *
 *   node_modules/.bin/tsx bench/jobs/overhead.ts [--backups 2000] [--databases 100] [--concurrency 8]
 *
 * Our worker processes `backups` backup jobs plus the `backups` prune jobs they chain;
 * raw BullMQ processes the same total number of no-op jobs. Target: ours / raw >= 0.5.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { JOB_NAMES, closeQueues, createQueues, createRedis, enqueue } from '@mfb/jobs';
import { REDIS_URL, ROOT, cpuMs, spawnProc, waitFor, writeConfig } from './lib.js';

const { values } = parseArgs({
  options: { backups: { type: 'string', default: '2000' }, databases: { type: 'string', default: '100' }, concurrency: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } },
});
const rounds = Number(values.rounds);
const n = Number(values.backups);
const nDb = Number(values.databases);
const concurrency = Number(values.concurrency);
const log = (m: string): void => void process.stderr.write(`[overhead] ${m}\n`);
const work = mkdtempSync(join(tmpdir(), 'mfb-overhead-'));
const redis = createRedis({ url: REDIS_URL, tls: false }, 'producer');
/** Worker CPU ms per job, per round: robust against the load of a shared host, unlike wall time. */
const cpu = { raw: [] as number[], ours: [] as number[] };

async function ours(): Promise<number> {
  const dbs = Array.from({ length: nDb }, (_, i) => ({ id: `o${i}`, path: join(work, `o${i}.db`) }));
  const cfg = await writeConfig(join(work, 'ours'), dbs, { concurrency });
  const queues = createQueues(redis, cfg.prefix);
  await queues.backup.pause();
  for (let i = 0; i < n; i += 250) await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, k) => enqueue(queues, 'backup', { databaseId: dbs[(i + k) % nDb]!.id, trigger: 'api' })));
  const w = spawnProc([join(ROOT, 'apps/worker/src/main.ts'), '--config', cfg.file, '--test-only-handler=noop-engine']);
  await w.ready;
  const t0 = performance.now();
  const c0 = cpuMs(w.proc.pid!);
  await queues.backup.resume();
  await waitFor(async () => ((await queues.prune.getJobCounts('completed')).completed ?? 0) >= n && ((await queues.backup.getJobCounts('completed')).completed ?? 0) >= n, 600_000, 'our jobs');
  const s = (performance.now() - t0) / 1000;
  cpu.ours.push((cpuMs(w.proc.pid!) - c0) / (2 * n));
  w.proc.kill('SIGTERM');
  await w.exited;
  for (const q of JOB_NAMES) await queues[q].obliterate({ force: true });
  await closeQueues(queues);
  return (2 * n) / s;
}

async function raw(): Promise<number> {
  const prefix = `bench-raw-${Date.now()}`;
  const q = new Queue('noop', { connection: redis, prefix });
  await q.pause();
  for (let i = 0; i < 2 * n; i += 500) await q.addBulk(Array.from({ length: Math.min(500, 2 * n - i) }, () => ({ name: 'noop', data: {} })));
  const w = spawnProc([join(import.meta.dirname, 'raw-worker.ts'), prefix, String(concurrency)]);
  await w.ready;
  const t0 = performance.now();
  const c0 = cpuMs(w.proc.pid!);
  await q.resume();
  await waitFor(async () => ((await q.getJobCounts('completed')).completed ?? 0) >= 2 * n, 600_000, 'raw jobs');
  const s = (performance.now() - t0) / 1000;
  cpu.raw.push((cpuMs(w.proc.pid!) - c0) / (2 * n));
  w.proc.kill('SIGTERM');
  await w.exited;
  await q.obliterate({ force: true });
  await q.close();
  return (2 * n) / s;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  // Alternate raw and ours so both see the same machine load (the host is shared).
  const rawRuns: number[] = [];
  const ourRuns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    log(`round ${r + 1}/${rounds}: raw BullMQ, ${2 * n} no-op jobs...`);
    rawRuns.push(await raw());
    log(`round ${r + 1}/${rounds}: ours, ${n} backups + ${n} chained prunes (no-op engine)...`);
    ourRuns.push(await ours());
  }
  const rawJps = median(rawRuns);
  const oursJps = median(ourRuns);
  const result = {
    date: new Date().toISOString(),
    jobs: 2 * n,
    databases: nDb,
    concurrency,
    rounds,
    rawJobsPerS: rawRuns.map((x) => +x.toFixed(1)),
    oursJobsPerS: ourRuns.map((x) => +x.toFixed(1)),
    rawMedian: +rawJps.toFixed(1),
    oursMedian: +oursJps.toFixed(1),
    ratio: +(oursJps / rawJps).toFixed(3),
    ratioPerRound: ourRuns.map((x, i) => +(x / rawRuns[i]!).toFixed(3)),
    rawCpuMsPerJob: cpu.raw.map((x) => +x.toFixed(4)),
    oursCpuMsPerJob: cpu.ours.map((x) => +x.toFixed(4)),
    /** jobs per worker-CPU-second, ours / raw (medians). */
    cpuRatio: +(median(cpu.raw) / median(cpu.ours)).toFixed(3),
    cpus: cpus().length,
    loadavg1: +loadavg()[0]!.toFixed(2),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  redis.disconnect();
  rmSync(work, { recursive: true, force: true });
}
