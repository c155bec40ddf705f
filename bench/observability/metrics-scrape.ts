/**
 * `/metrics` of a worker serving 1,000 databases: latency of a scrape (target p99 <= 50 ms).
 *
 *   node --conditions=@mfb/source --import tsx bench/observability/metrics-scrape.ts [--count 1000] [--scrapes 500]
 *
 * The worker is a real process (apps/worker/src/main.ts) with 1,000 databases and one target
 * each. Its catalog holds 3 backups per database on local and on the target (so the gauges
 * seeded from the catalog exist for every database), and one backup and one verify job per
 * database have run (they fail fast: the files do not exist), so every per-database series a
 * worker can export is there: success, attempt and failure timestamps, failures in a row,
 * sizes, storage usage. Then `--scrapes` sequential GET /metrics (after 20 warm-up ones), timed
 * with hrtime; each scrape also reads the queue depths from Redis, as in production.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newBackupId, type Manifest } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import { freePort } from '@mfb/testkit';
import { JOB_NAMES, closeQueues, createQueues, createRedis, enqueue } from '@mfb/jobs';
import { REDIS_URL, ROOT, cpuMs, spawnProc, waitFor } from '../jobs/lib.js';
import { fleetConfig, percentile } from './metrics-lib.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, scrapes: { type: 'string', default: '500' } } });
const count = Number(values.count);
const scrapes = Number(values.scrapes);
const log = (m: string): void => void process.stderr.write(`[metrics-scrape] ${m}\n`);

const work = mkdtempSync(join(tmpdir(), 'mfb-metrics-bench-'));
try {
  const dbs = Array.from({ length: count }, (_, i) => ({ id: `db${String(i).padStart(4, '0')}`, path: join(work, 'gone', `db${i}.sqlite`), targets: ['nas'] }));
  const cfg = await fleetConfig(join(work, 'fleet'), dbs, { concurrency: 2, targets: ['nas'] });

  log(`catalog: ${count} x 3 backups on local and nas...`);
  const catalog = await openCatalog(cfg.catalogPath);
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  for (const [i, d] of dbs.entries()) {
    for (let k = 0; k < 3; k++) {
      const createdAt = new Date(t0 + k * 86_400_000 + i * 1000);
      const backupId = newBackupId(createdAt);
      const artifactKey = `${d.id}/${backupId}.sqlite.gz`;
      const manifest: Manifest = {
        formatVersion: 1,
        backupId,
        databaseId: d.id,
        createdAt: createdAt.toISOString(),
        artifactKey,
        artifact: { sizeBytes: 300_000 + i, sha256: '0'.repeat(64) },
        snapshot: { sizeBytes: 1_048_576, sha256: '1'.repeat(64), method: 'vacuum-into', sqlite: { pageSize: 4096, pageCount: 256, userVersion: 0, journalMode: 'delete' } },
        compression: { algorithm: 'gzip', level: 6 },
        encryption: null,
        tool: { name: 'myfinance-backup', version: '0.1.0' },
      };
      await catalog.recordBackup(manifest, { target: 'local', artifactKey, storedAt: createdAt.toISOString() });
      await catalog.addLocation(backupId, { target: 'nas', artifactKey, storedAt: createdAt.toISOString() });
    }
  }
  await catalog.close();

  const worker = spawnProc([join(ROOT, 'apps/worker/src/main.ts'), '--config', cfg.file]);
  await worker.ready;
  const redis = createRedis({ url: REDIS_URL, tls: false }, 'producer');
  const queues = createQueues(redis, cfg.prefix);
  try {
    log(`jobs: ${count} backups and ${count} verifies (fail fast)...`);
    for (let i = 0; i < dbs.length; i += 100) {
      await Promise.all(dbs.slice(i, i + 100).flatMap((d) => [enqueue(queues, 'backup', { databaseId: d.id, trigger: 'api' }), enqueue(queues, 'verify', { databaseId: d.id })]));
    }
    await waitFor(async () => {
      const b = await queues.backup.getJobCounts('completed', 'failed');
      const v = await queues.verify.getJobCounts('completed', 'failed');
      return (b.completed ?? 0) + (b.failed ?? 0) + (v.completed ?? 0) + (v.failed ?? 0) >= 2 * count;
    }, 600_000, 'all jobs');

    const url = `http://127.0.0.1:${cfg.metricsPort}/metrics`;
    let body = '';
    for (let i = 0; i < 20; i++) body = await (await fetch(url)).text();
    const times: number[] = [];
    const cpu0 = cpuMs(worker.proc.pid!);
    for (let i = 0; i < scrapes; i++) {
      const s = process.hrtime.bigint();
      const res = await fetch(url);
      body = await res.text();
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const cpuPerScrapeMs = (cpuMs(worker.proc.pid!) - cpu0) / scrapes;
    times.sort((a, b) => a - b);

    // Reference in the same run: a bare node HTTP server sending the same body from memory,
    // i.e. what this machine's load alone costs a 1 MB scrape.
    const bodyFile = join(work, 'body.txt');
    writeFileSync(bodyFile, body);
    const refPort = await freePort();
    const ref = spawn(process.execPath, ['-e', `const b=require('fs').readFileSync(${JSON.stringify(bodyFile)});require('http').createServer((q,r)=>{r.writeHead(200,{'content-type':'text/plain'});r.end(b)}).listen(${refPort},'127.0.0.1',()=>console.log('READY'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => ref.stdout.once('data', r));
    const refTimes: number[] = [];
    try {
      for (let i = 0; i < 20; i++) await (await fetch(`http://127.0.0.1:${refPort}/`)).text();
      for (let i = 0; i < scrapes; i++) {
        const s0 = process.hrtime.bigint();
        await (await fetch(`http://127.0.0.1:${refPort}/`)).text();
        refTimes.push(Number(process.hrtime.bigint() - s0) / 1e6);
      }
    } finally {
      ref.kill();
    }
    refTimes.sort((a, b) => a - b);
    const samples = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
    const perDb = body.split('\n').filter((l) => l.includes('database="db0007"')).length;
    const result = {
      date: new Date().toISOString(),
      databases: count,
      scrapes,
      samples,
      seriesPerDatabase: perDb,
      bodyBytes: Buffer.byteLength(body),
      p50Ms: +percentile(times, 50).toFixed(2),
      p90Ms: +percentile(times, 90).toFixed(2),
      p99Ms: +percentile(times, 99).toFixed(2),
      maxMs: +times[times.length - 1]!.toFixed(2),
      // The worker's own CPU time per scrape (user + system): what a scrape costs on an idle core.
      workerCpuPerScrapeMs: +cpuPerScrapeMs.toFixed(2),
      referenceStaticP50Ms: +percentile(refTimes, 50).toFixed(2),
      referenceStaticP99Ms: +percentile(refTimes, 99).toFixed(2),
      target: 'p99 <= 50 ms',
      cpus: cpus().length,
      loadavg1: +loadavg()[0]!.toFixed(2),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    worker.proc.kill('SIGTERM');
    await worker.exited;
    for (const n of JOB_NAMES) await queues[n].obliterate({ force: true }).catch(() => undefined);
    await closeQueues(queues);
    redis.disconnect();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
