/**
 * Fleet with notifications on vs off in the same run: `count` databases of ~1 MiB, one backup
 * job each (plus its chained prune), through one worker process, rounds alternating off / on.
 * "On" = a JSON webhook and a heartbeat URL on a local receiver: every backup pings the
 * heartbeat and resolves its incident key in Redis.
 *
 *   node_modules/.bin/tsx --conditions=@mfb/source bench/observability/notify-overhead.ts [--count 200] [--rounds 2]
 *
 * Target: on / off <= 1.02 (wall time), also reported for the worker's CPU time.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { JOB_NAMES, closeQueues, createQueues, createRedis, enqueue } from '@mfb/jobs';
import { startWebhookReceiver, testConfig } from '@mfb/testkit';
import { BENCH_DATA_DIR, financeDb } from '../lib/finance-db.js';
import { REDIS_URL, ROOT, cpuMs, spawnProc, waitFor } from '../jobs/lib.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '200' }, rounds: { type: 'string', default: '2' } } });
const count = Number(values.count);
const rounds = Number(values.rounds);
const log = (m: string): void => void process.stderr.write(`[notify-overhead] ${m}\n`);

const fleetDir = join(BENCH_DATA_DIR, 'fleet-1m');
mkdirSync(fleetDir, { recursive: true });
const seeds: string[] = [];
for (let s = 1; s <= 10; s++) seeds.push((await financeDb(1, { seed: s, journalMode: 'delete', log })).path);
const dbs = Array.from({ length: count }, (_, i) => ({ id: `fleet${String(i).padStart(4, '0')}`, path: join(fleetDir, `fleet${String(i).padStart(4, '0')}.db`) }));
for (const [i, d] of dbs.entries()) if (!existsSync(d.path)) copyFileSync(seeds[i % seeds.length]!, d.path);

const receiver = await startWebhookReceiver();
const work = mkdtempSync(join(tmpdir(), 'mfb-notify-bench-'));
const results: Array<{ mode: 'off' | 'on'; wallS: number; workerCpuS: number }> = [];
try {
  for (let r = 0; r < rounds * 2; r++) {
    const mode = r % 2 === 0 ? 'off' : 'on';
    const dir = join(work, `round-${r}`);
    const { config, file } = await testConfig({
      dir,
      redisUrl: REDIS_URL,
      redisPrefix: `bench-${randomUUID()}`,
      settings: {
        dataDir: './data',
        localRetention: { keepLast: 1000 },
        databases: dbs.map((d) => ({ id: d.id, path: d.path, compression: { algorithm: 'gzip', level: 6 } })),
        worker: { concurrency: 1, shutdownGraceMs: 10_000 },
        ...(mode === 'on' ? { notifications: { webhooks: [{ url: `${receiver.url}/hook`, format: 'json' }], heartbeatUrl: `${receiver.url}/ping/fleet` } } : {}),
        log: { level: 'info' },
      },
    });
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const worker = spawnProc([join(ROOT, 'apps/worker/src/main.ts'), '--config', file]);
    await worker.ready;
    const redis = createRedis({ url: REDIS_URL, tls: false }, 'producer');
    const queues = createQueues(redis, config.redis.prefix);
    try {
      const cpu0 = cpuMs(worker.proc.pid!);
      const t0 = performance.now();
      for (let i = 0; i < dbs.length; i += 100) await Promise.all(dbs.slice(i, i + 100).map((d) => enqueue(queues, 'backup', { databaseId: d.id, trigger: 'api' })));
      for (const q of ['backup', 'prune'] as const) {
        await waitFor(async () => {
          const c = await queues[q].getJobCounts('completed', 'failed');
          return (c.completed ?? 0) + (c.failed ?? 0) >= count;
        }, 3_600_000, `all ${q} jobs`);
      }
      const wallS = (performance.now() - t0) / 1000;
      const workerCpuS = (cpuMs(worker.proc.pid!) - cpu0) / 1000;
      results.push({ mode, wallS: +wallS.toFixed(2), workerCpuS: +workerCpuS.toFixed(2) });
      log(`round ${r} (${mode}): ${wallS.toFixed(2)} s wall, ${workerCpuS.toFixed(2)} s worker CPU`);
    } finally {
      worker.proc.kill('SIGTERM');
      await worker.exited;
      for (const n of JOB_NAMES) await queues[n].obliterate({ force: true }).catch(() => undefined);
      await closeQueues(queues);
      redis.disconnect();
    }
  }
  const sum = (mode: 'on' | 'off', k: 'wallS' | 'workerCpuS'): number => results.filter((x) => x.mode === mode).reduce((a, x) => a + x[k], 0);
  process.stdout.write(
    JSON.stringify({
      date: new Date().toISOString(),
      count,
      rounds,
      results,
      wallRatio: +(sum('on', 'wallS') / sum('off', 'wallS')).toFixed(3),
      cpuRatio: +(sum('on', 'workerCpuS') / sum('off', 'workerCpuS')).toFixed(3),
      heartbeatsDelivered: receiver.delivered().filter((x) => x.path === '/ping/fleet').length,
      cpus: cpus().length,
      loadavg1: +loadavg()[0]!.toFixed(2),
      target: 'on/off <= 1.02',
    }) + '\n',
  );
} finally {
  await receiver.close();
  rmSync(work, { recursive: true, force: true });
}
