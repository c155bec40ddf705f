/**
 * bench/scale/workers: no-op job throughput with 1, 2 and 4 worker processes (real worker:
 * payload validation, per-database lock, catalog history, metrics; the engine replaced by the
 * test-only `sleep` handler with 0 ms), 2,000 verify jobs over 200 databases each run.
 *
 *   pnpm --filter @mfb/bench exec tsx --conditions=@mfb/source scale/workers.ts [--jobs 2000] [--databases 200] [--concurrency 4]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { closeQueues, createQueues, createRedis, enqueue } from '@mfb/jobs';
import { REDIS_URL, ROOT, spawnProc, waitFor, writeConfig } from '../jobs/lib.js';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '2000' }, databases: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '4' } } });
const JOBS = Number(values.jobs);
const DBS = Number(values.databases);
const CONC = Number(values.concurrency);

const results: Array<{ workers: number; seconds: number; jobsPerSecond: number }> = [];
for (const workers of [1, 2, 4]) {
  const dir = mkdtempSync(join(tmpdir(), 'mfb-bench-workers-'));
  const dbs = Array.from({ length: DBS }, (_, i) => ({ id: `db${i}`, path: join(dir, `db${i}.db`) }));
  const cfg = await writeConfig(dir, dbs, { concurrency: CONC });
  const procs = Array.from({ length: workers }, () =>
    spawnProc([join(ROOT, 'apps/worker/src/main.ts'), '--config', cfg.file, '--test-only-handler=sleep', '--test-only-sleep-ms=0']),
  );
  await Promise.all(procs.map((p) => p.ready));
  const redis = createRedis({ url: REDIS_URL, tls: false }, 'worker');
  const queues = createQueues(redis, cfg.prefix);
  try {
    const t = performance.now();
    for (let i = 0; i < JOBS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => enqueue(queues, 'verify', { databaseId: `db${(i + k) % DBS}` })));
    }
    await waitFor(async () => ((await queues.verify.getJobCounts('completed')).completed ?? 0) >= JOBS, 600_000, 'jobs completed');
    const seconds = (performance.now() - t) / 1000;
    results.push({ workers, seconds, jobsPerSecond: JOBS / seconds });
    console.error(`${workers} worker(s): ${JOBS} jobs in ${seconds.toFixed(1)} s`);
  } finally {
    for (const p of procs) p.proc.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await queues.verify.obliterate({ force: true }).catch(() => undefined);
    await closeQueues(queues);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}
const base = results[0]!.jobsPerSecond;
console.log(JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, loadavg1: loadavg()[0], jobs: JOBS, databases: DBS, concurrency: CONC, results }));
console.log(`
| worker processes (concurrency ${CONC} each) | seconds | jobs/s | vs 1 process |
| ---: | ---: | ---: | ---: |
${results.map((r) => `| ${r.workers} | ${r.seconds.toFixed(1)} | ${r.jobsPerSecond.toFixed(0)} | ${(r.jobsPerSecond / base).toFixed(2)}x |`).join('\n')}`);
