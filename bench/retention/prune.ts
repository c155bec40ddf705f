/**
 * Prune benchmark (issue 9): delete N expired backups from the local (file://) primary
 * storage with the catalog, through the real path (`pruneTarget` of @mfb/runtime: interrupted
 * deletes, plan, the deletion protocol in batches), against `rm -rf` of the same files.
 *
 *   tsx --conditions=@mfb/source bench/retention/prune.ts [count=10000] [reps=3] [batch=256] [concurrency=8]
 *
 * Each copy is an artifact and a manifest (4 KiB and 0.5 KiB); N+1 backups, keepLast 1, so N
 * go. Target: deletions/s >= 0.5 x rm's (rm's rate = N / the time `rm -rf` takes for the
 * same 2N files). Prints one JSON line per rep and a summary.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Manifest } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import type { DatabaseConfig } from '@mfb/config';
import { pruneTarget } from '@mfb/runtime';
import { openStorage } from '@mfb/storage';

const count = Number(process.argv[2] ?? 10_000);
const reps = Number(process.argv[3] ?? 3);
const batchSize = Number(process.argv[4] ?? 256);
const concurrency = Number(process.argv[5] ?? 8);

const ARTIFACT = Buffer.alloc(4096, 7);
const h = (s: string): string => createHash('sha256').update(s).digest('hex');

function manifests(n: number): Manifest[] {
  const t0 = Date.parse('2025-01-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) => {
    const createdAt = new Date(t0 + i * 60_000);
    const backupId = `${createdAt.toISOString().replace(/[-:.]/g, '').slice(0, 15)}000Z-${i.toString(16).padStart(8, '0')}`;
    return {
      formatVersion: 1,
      backupId,
      databaseId: 'fin',
      createdAt: createdAt.toISOString(),
      artifactKey: `fin/${backupId}.sqlite.gz`,
      artifact: { sizeBytes: ARTIFACT.length, sha256: h('a' + backupId) },
      snapshot: { sizeBytes: 8192, sha256: h('s' + backupId), method: 'vacuum-into', sqlite: { pageSize: 4096, pageCount: 2, userVersion: 0, journalMode: 'wal' } },
      compression: { algorithm: 'gzip', level: 6 },
      encryption: null,
      tool: { name: 'myfinance-backup', version: '0.1.0' },
    } as Manifest;
  });
}

/** Write the files of `ms` under `root` (artifact + manifest each), as the engine lays them out. */
function writeFiles(root: string, ms: Manifest[]): void {
  mkdirSync(join(root, 'fin'), { recursive: true });
  for (const m of ms) {
    writeFileSync(join(root, m.artifactKey), ARTIFACT);
    writeFileSync(join(root, `${m.artifactKey}.manifest.json`), JSON.stringify(m));
  }
}

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const ms = manifests(count + 1);
const ours: number[] = [];
const rms: number[] = [];
for (let r = 0; r < reps; r++) {
  const dir = mkdtempSync(join(tmpdir(), 'mfb-bench-prune-'));
  try {
    // ours: catalog + storage, as a worker has them
    const root = join(dir, 'backups');
    writeFiles(root, ms);
    const catalog = await openCatalog(join(dir, 'catalog.db'));
    for (let i = 0; i < ms.length; i += 1000) {
      // setup only: one transaction per 1000 (recordBackup is one each)
      await Promise.all(ms.slice(i, i + 1000).map((m) => catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey })));
    }
    const storage = openStorage(pathToFileURL(root).href);
    const db = { id: 'fin', path: '/nonexistent', targets: [], retention: { keepLast: 1 } } as unknown as DatabaseConfig;
    execFileSync('sync');
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const res = await pruneTarget({ config: { targets: [] }, catalog, storage }, db, 'local', new Date('2026-12-01T00:00:00Z'), { batchSize, concurrency });
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = cpuMs(process.cpuUsage(c0));
    await catalog.close();
    if (res.deleted.length !== count) throw new Error(`deleted ${res.deleted.length}, expected ${count}`);

    // rm: the same 2N files, fresh, one `rm -rf` of their directory
    const rmRoot = join(dir, 'rm');
    writeFiles(rmRoot, ms.slice(0, count));
    execFileSync('sync');
    const t1 = process.hrtime.bigint();
    execFileSync('rm', ['-rf', join(rmRoot, 'fin')]);
    const rmWall = Number(process.hrtime.bigint() - t1) / 1e6;
    ours.push(wall);
    rms.push(rmWall);
    console.log(JSON.stringify({ rep: r + 1, pruneMs: +wall.toFixed(1), pruneCpuMs: +cpu.toFixed(1), perSec: Math.round(count / (wall / 1000)), rmMs: +rmWall.toFixed(1), rmPerSec: Math.round(count / (rmWall / 1000)), ratio: +(rmWall / wall).toFixed(2) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const summary = {
  count,
  reps,
  batchSize,
  concurrency,
  node: process.version,
  pruneMedianMs: +median(ours).toFixed(1),
  rmMedianMs: +median(rms).toFixed(1),
  deletionsPerSec: Math.round(count / (median(ours) / 1000)),
  rmDeletionsPerSec: Math.round(count / (median(rms) / 1000)),
  rateVsRm: +(median(rms) / median(ours)).toFixed(2),
  loadavg: loadavg().map((x) => +x.toFixed(2)),
};
console.log(JSON.stringify(summary));
console.log(`prune ${summary.deletionsPerSec}/s vs rm ${summary.rmDeletionsPerSec}/s: ${summary.rateVsRm} of rm's rate (target >= 0.5)`);
