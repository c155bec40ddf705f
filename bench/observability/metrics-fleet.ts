/**
 * Fleet with metrics on vs off, in the same run: target "on" at most 2% slower.
 *
 *   node --conditions=@mfb/source --import tsx bench/observability/metrics-fleet.ts [--count 60] [--rounds 4] [--workers 2] [--scrape-interval-ms 15000]
 *
 * Each round backs up `count` generated ~1 MiB finance databases (one target each: backup,
 * upload, and the prunes they chain) through `workers` worker processes, from a fresh data
 * directory and Redis prefix. "on": the workers serve /metrics and refresh the catalog-fed
 * gauges, and a scraper GETs every worker's /metrics every `--scrape-interval-ms` (15 s, the
 * compose stack's Prometheus; 1000 is a stress case). "off": the same workers with `--disable-metrics` and no scraper. Rounds alternate
 * on/off/off/on/... so that drifts of this shared machine's load hit both sides alike; the
 * result is the ratio of the medians, with every round printed.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { JOB_NAMES, closeQueues, createQueues, createRedis, enqueue } from '@mfb/jobs';
import { BENCH_DATA_DIR, financeDb } from '../lib/finance-db.js';
import { REDIS_URL, ROOT, cpuMs, waitFor } from '../jobs/lib.js';
import { fleetConfig, startWorkerProc } from './metrics-lib.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '60' }, rounds: { type: 'string', default: '4' }, workers: { type: 'string', default: '2' }, 'scrape-interval-ms': { type: 'string', default: '15000' } },
});
const scrapeIntervalMs = Number(values['scrape-interval-ms']);
const count = Number(values.count);
const rounds = Number(values.rounds);
const nWorkers = Number(values.workers);
const log = (m: string): void => void process.stderr.write(`[metrics-fleet] ${m}\n`);

const fleetDir = join(BENCH_DATA_DIR, 'fleet-1m');
mkdirSync(fleetDir, { recursive: true });
const seeds: string[] = [];
for (let s = 1; s <= 10; s++) seeds.push((await financeDb(1, { seed: s, journalMode: 'delete', log })).path);
const dbs = Array.from({ length: count }, (_, i) => ({ id: `fleet${String(i).padStart(4, '0')}`, path: join(fleetDir, `fleet${String(i).padStart(4, '0')}.db`), targets: ['nas'] }));
for (const [i, d] of dbs.entries()) if (!existsSync(d.path)) copyFileSync(seeds[i % seeds.length]!, d.path);

async function round(metricsOn: boolean): Promise<{ s: number; cpuS: number }> {
  const work = mkdtempSync(join(tmpdir(), 'mfb-metrics-fleet-'));
  // Port 0: each worker process takes its own free port (logged in `worker ready`).
  const cfg = await fleetConfig(join(work, 'fleet'), dbs, { concurrency: 1, targets: ['nas'], metricsPort: 0 });
  const workers = await Promise.all(Array.from({ length: nWorkers }, () => startWorkerProc(ROOT, cfg.file, metricsOn ? [] : ['--disable-metrics'])));
  const redis = createRedis({ url: REDIS_URL, tls: false }, 'producer');
  const queues = createQueues(redis, cfg.prefix);
  let scraping = metricsOn;
  let scrapes = 0;
  const scraper = (async () => {
    while (scraping) {
      await Promise.all(workers.map((w) => fetch(`http://127.0.0.1:${w.metricsPort}/metrics`).then((r) => r.text()).then(() => scrapes++)));
      // Wake up often enough to stop promptly at the end of the round.
      for (let waited = 0; scraping && waited < scrapeIntervalMs; waited += 100) await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const t0 = performance.now();
    for (let i = 0; i < dbs.length; i += 100) await Promise.all(dbs.slice(i, i + 100).map((d) => enqueue(queues, 'backup', { databaseId: d.id, trigger: 'api' })));
    // Every backup chains one upload and one prune of local; every upload one prune of nas.
    await waitFor(async () => {
      const [b, u, p] = await Promise.all([queues.backup, queues.upload, queues.prune].map((q) => q.getJobCounts('completed', 'failed')));
      const done = (c: Record<string, number> | undefined): number => (c?.completed ?? 0) + (c?.failed ?? 0);
      return done(b) >= count && done(u) >= count && done(p) >= 2 * count;
    }, 3_600_000, 'the fleet');
    const s = (performance.now() - t0) / 1000;
    const failed = (await queues.backup.getJobCounts('failed')).failed ?? 0;
    if (failed) throw new Error(`${failed} backups failed`);
    // CPU time of the worker processes (user + system): less sensitive to the machine's load than wall time.
    const cpuS = workers.reduce((n, w) => n + cpuMs(w.proc.pid!), 0) / 1000;
    log(`metrics ${metricsOn ? 'on ' : 'off'}: ${s.toFixed(2)} s, workers' CPU ${cpuS.toFixed(2)} s${metricsOn ? ` (${scrapes} scrapes)` : ''}, load ${loadavg()[0]!.toFixed(1)}`);
    return { s, cpuS };
  } finally {
    scraping = false;
    await scraper;
    await Promise.all(workers.map((w) => w.stop()));
    for (const n of JOB_NAMES) await queues[n].obliterate({ force: true }).catch(() => undefined);
    await closeQueues(queues);
    redis.disconnect();
    rmSync(work, { recursive: true, force: true });
  }
}

const on: Array<{ s: number; cpuS: number }> = [];
const off: Array<{ s: number; cpuS: number }> = [];
// on, off, off, on, on, off, ...: each side runs first as often as second.
const ORDER = [true, false, false, true];
for (let i = 0; i < rounds; i++) {
  const metricsOn = ORDER[i % 4]!;
  (metricsOn ? on : off).push(await round(metricsOn));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result = {
  date: new Date().toISOString(),
  databases: count,
  workers: nWorkers,
  scrapeIntervalMs,
  onS: on.map((x) => +x.s.toFixed(2)),
  offS: off.map((x) => +x.s.toFixed(2)),
  onWorkerCpuS: on.map((x) => +x.cpuS.toFixed(2)),
  offWorkerCpuS: off.map((x) => +x.cpuS.toFixed(2)),
  ratioOfMedians: +(median(on.map((x) => x.s)) / median(off.map((x) => x.s))).toFixed(3),
  cpuRatioOfMedians: +(median(on.map((x) => x.cpuS)) / median(off.map((x) => x.cpuS))).toFixed(3),
  target: '<= 1.02',
  cpus: cpus().length,
  loadavg1: +loadavg()[0]!.toFixed(2),
};
process.stdout.write(JSON.stringify(result) + '\n');
