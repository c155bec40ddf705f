/**
 * Fleet benchmark: 1,000 databases of ~1 MiB, one backup job each, through 2 worker
 * processes, against the same 1,000 backups in a plain loop in one process, in the same run.
 *
 *   node_modules/.bin/tsx bench/jobs/fleet.ts [--count 1000] [--concurrency 2] [--workers 2]
 *
 * Target: ratio (workers / loop) <= 1.0.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackup } from '@mfb/backup';
import { JOB_NAMES, closeQueues, createQueues, createRedis, enqueue } from '@mfb/jobs';
import { openStorage } from '@mfb/storage';
import { BENCH_DATA_DIR, financeDb } from '../lib/finance-db.js';
import { REDIS_URL, ROOT, spawnProc, waitFor, writeConfig } from './lib.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '2' }, workers: { type: 'string', default: '2' }, level: { type: 'string', default: '6' } },
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const nWorkers = Number(values.workers);
const level = Number(values.level);
const log = (m: string): void => void process.stderr.write(`[fleet] ${m}\n`);

// 1. The fleet: 10 distinct 1 MiB finance databases, copied to `count` files.
const fleetDir = join(BENCH_DATA_DIR, 'fleet-1m');
mkdirSync(fleetDir, { recursive: true });
const seeds: string[] = [];
for (let s = 1; s <= 10; s++) seeds.push((await financeDb(1, { seed: s, journalMode: 'delete', log })).path);
const dbs = Array.from({ length: count }, (_, i) => ({ id: `fleet${String(i).padStart(4, '0')}`, path: join(fleetDir, `fleet${String(i).padStart(4, '0')}.db`) }));
for (const [i, d] of dbs.entries()) if (!existsSync(d.path)) copyFileSync(seeds[i % seeds.length]!, d.path);

const work = mkdtempSync(join(tmpdir(), 'mfb-fleet-'));
try {
  // 2. Plain loop in this process.
  const loopStorage = openStorage(`file://${join(work, 'loop', 'backups')}`);
  const loopTmp = join(work, 'loop', 'tmp');
  mkdirSync(loopTmp, { recursive: true, mode: 0o700 });
  log(`loop: ${count} backups in one process...`);
  const t0 = performance.now();
  for (const d of dbs) {
    await createBackup({ databaseId: d.id, sourcePath: d.path, storage: loopStorage, compression: { algorithm: 'gzip', level }, tmpDir: loopTmp });
  }
  const loopS = (performance.now() - t0) / 1000;
  log(`loop: ${loopS.toFixed(2)} s`);

  // 3. The same backups as jobs through `nWorkers` worker processes.
  const cfg = await writeConfig(join(work, 'queue'), dbs, { concurrency, level });
  const workers = Array.from({ length: nWorkers }, () => spawnProc([join(ROOT, 'apps/worker/src/main.ts'), '--config', cfg.file]));
  await Promise.all(workers.map((w) => w.ready));
  const redis = createRedis({ url: REDIS_URL, tls: false }, 'producer');
  const queues = createQueues(redis, cfg.prefix);
  try {
    log(`queue: ${count} backup jobs through ${nWorkers} workers x concurrency ${concurrency}...`);
    const t1 = performance.now();
    for (let i = 0; i < dbs.length; i += 100) await Promise.all(dbs.slice(i, i + 100).map((d) => enqueue(queues, 'backup', { databaseId: d.id, trigger: 'api' })));
    let backupsDoneS = 0;
    await waitFor(
      async () => {
        const c = await queues.backup.getJobCounts('completed', 'failed');
        if (!backupsDoneS && (c.completed ?? 0) + (c.failed ?? 0) >= count) backupsDoneS = (performance.now() - t1) / 1000;
        return (c.completed ?? 0) + (c.failed ?? 0) >= count;
      },
      3_600_000,
      'all backups',
    );
    // The chained prune of each backup is part of our pipeline; include it.
    await waitFor(async () => {
      const c = await queues.prune.getJobCounts('completed', 'failed');
      return (c.completed ?? 0) + (c.failed ?? 0) >= count;
    }, 600_000, 'all prunes');
    const queueS = (performance.now() - t1) / 1000;
    const failed = (await queues.backup.getJobCounts('failed')).failed;
    const result = {
      date: new Date().toISOString(),
      count,
      workers: nWorkers,
      concurrency,
      gzipLevel: level,
      loopS: +loopS.toFixed(2),
      queueBackupsS: +backupsDoneS.toFixed(2),
      queueWithPrunesS: +queueS.toFixed(2),
      ratio: +(queueS / loopS).toFixed(3),
      ratioBackupsOnly: +(backupsDoneS / loopS).toFixed(3),
      failed,
      cpus: cpus().length,
      loadavg1: +loadavg()[0]!.toFixed(2),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    for (const n of JOB_NAMES) await queues[n].obliterate({ force: true }).catch(() => undefined);
    await closeQueues(queues);
    redis.disconnect();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
