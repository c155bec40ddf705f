/**
 * bench/scale/catalog: the PostgreSQL catalog against the SQLite catalog, in the same run.
 *
 * 1. Catalog operations per second through the `Catalog` interface (one process, one
 *    operation in flight, as a worker or an API request does): recordBackup, listBackups first
 *    page, listBackups deep page (cursor), on 20,000 backups; the ratio PostgreSQL / SQLite.
 * 2. API list p99 on PostgreSQL with 1,000,000 backups of one database (seeded with SQL
 *    `generate_series`), through a real API process (bench/api/server.ts --catalog-url),
 *    sequential requests at random page depths. Target p99 <= 20 ms.
 *
 *   pnpm --filter @mfb/bench exec tsx --conditions=@mfb/source scale/catalog.ts [--backups 1000000] [--ops 20000] [--seconds 10]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openCatalog, openPostgresCatalog, type Catalog } from '@mfb/catalog';
import { createClient } from '@mfb/client';
import type { Manifest } from '@mfb/backup';
import { ensurePostgres } from '@mfb/testkit';
import { BENCH_KEY } from '../api/server.js';
import { fmt, pct, startServer } from '../api/lib.js';
import { minutelyManifest } from '../lib/manifests.js';

const { values } = parseArgs({ options: { backups: { type: 'string', default: '1000000' }, ops: { type: 'string', default: '20000' }, seconds: { type: 'string', default: '10' } } });
const N = Number(values.backups);
const OPS = Number(values.ops);
const SECONDS = Number(values.seconds);
const DB = 'db-0000';

const manifest = (i: number, db = DB): Manifest => minutelyManifest(i, db);

async function opsPerSecond(cat: Catalog): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let t = performance.now();
  for (let i = 0; i < OPS; i++) {
    const m = manifest(i, `db-${String(i % 20).padStart(4, '0')}`);
    await cat.recordBackup(m, { target: 'local', artifactKey: m.artifactKey, storedAt: m.createdAt });
  }
  out['recordBackup'] = OPS / ((performance.now() - t) / 1000);
  const cursors: string[] = [];
  let cursor: string | null = null;
  do {
    const p: Awaited<ReturnType<Catalog['listBackups']>> = await cat.listBackups({ databaseId: 'db-0001', limit: 50, ...(cursor ? { cursor } : {}) });
    cursor = p.nextCursor;
    if (cursor) cursors.push(cursor);
  } while (cursor);
  const n = 2000;
  t = performance.now();
  for (let i = 0; i < n; i++) await cat.listBackups({ databaseId: 'db-0001', limit: 50 });
  out['listBackups first page'] = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < n; i++) await cat.listBackups({ databaseId: 'db-0001', limit: 50, cursor: cursors[i % cursors.length]! });
  out['listBackups deep page'] = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < n; i++) await cat.getBackup(manifest((i * 7919) % OPS, `db-${String(((i * 7919) % OPS) % 20).padStart(4, '0')}`).backupId);
  out['getBackup'] = n / ((performance.now() - t) / 1000);
  return out;
}

const pgUrl = await ensurePostgres();
const schemaA = `bench_${randomBytes(4).toString('hex')}`;
const schemaB = `bench_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'mfb-bench-catalog-'));
const admin = new pg.Client({ connectionString: pgUrl });
await admin.connect();
try {
  // 1. ops/s, SQLite then PostgreSQL, then SQLite again (load drifts: report both SQLite runs).
  const sqlite1 = await openCatalog(join(dir, 'a.db'));
  const s1 = await opsPerSecond(sqlite1);
  await sqlite1.close();
  const pgCat = await openPostgresCatalog(pgUrl, { schema: schemaA });
  const p = await opsPerSecond(pgCat);
  await pgCat.close();
  const sqlite2 = await openCatalog(join(dir, 'b.db'));
  const s2 = await opsPerSecond(sqlite2);
  await sqlite2.close();
  const rows = Object.keys(p).map((k) => {
    const s = (s1[k]! + s2[k]!) / 2;
    return `| ${k} | ${fmt(s1[k]!, 0)} / ${fmt(s2[k]!, 0)} | ${fmt(p[k]!, 0)} | ${fmt(p[k]! / s, 2)} |`;
  });

  // 2. 1 M backups on PostgreSQL, API list p99.
  const seed = await openPostgresCatalog(pgUrl, { schema: schemaB });
  await seed.close();
  const t0 = performance.now();
  const m0 = manifest(0);
  const manifestSql = `replace(replace($1::text, '${m0.backupId}', id), '${m0.createdAt}', to_char(to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
  await admin.query(`SET search_path = ${schemaB}`);
  await admin.query(
    `INSERT INTO backups (backup_id, database_id, created_ms, size_bytes, pinned, live_count, manifest)
     SELECT id, '${DB}', ms, 1000000 + i, false, 1, ${manifestSql}
     FROM (SELECT i, ms, to_char(to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISSMS"Z-"') || lpad(to_hex(i), 8, '0') AS id
           FROM (SELECT i, 1577836800000::bigint + i::bigint * 60000 AS ms FROM generate_series(0, $2::int - 1) AS i) x) y`,
    [JSON.stringify(m0), N],
  );
  await admin.query(
    `INSERT INTO backup_locations (backup_id, target, artifact_key, stored_at, deleted_at, database_id, created_ms, storage_class)
     SELECT backup_id, 'local', '${DB}/' || backup_id || '.sqlite.gz', '2020-01-01T00:00:00.000Z', NULL, database_id, created_ms, NULL FROM backups`,
  );
  await admin.query('ANALYZE backups; ANALYZE backup_locations');
  const seedSeconds = (performance.now() - t0) / 1000;
  console.error(`seeded ${N} backups into PostgreSQL in ${fmt(seedSeconds, 1)} s`);

  const prefix = `mfb-bench-pg-${randomUUID()}`;
  const server = await startServer(['--prefix', prefix, '--dbs', '1', '--catalog', join(dir, 'unused.db'), '--catalog-url', `${pgUrl}?schema=${schemaB}`]);
  let seq: number[] = [];
  try {
    const client = createClient({ baseUrl: server.url, apiKey: BENCH_KEY });
    // Cursors at depths spread over the whole million: follow 200 pages, then jump with
    // createdBefore-derived cursors from rows sampled at random depths.
    const cursors: string[] = [];
    const sample = await admin.query(`SELECT created_ms, backup_id FROM backups ORDER BY random() LIMIT 2000`);
    for (const r of sample.rows as Array<{ created_ms: string; backup_id: string }>) {
      cursors.push(Buffer.from(JSON.stringify([1, Number(r.created_ms), r.backup_id])).toString('base64url'));
    }
    const first = await client.listBackups(DB, { limit: 50 });
    if (first.items.length !== 50) throw new Error('first page is not full');
    const lat: number[] = [];
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      const c = Math.random() < 0.2 ? undefined : cursors[Math.floor(Math.random() * cursors.length)];
      const s = performance.now();
      const page = await client.listBackups(DB, { limit: 50, ...(c ? { cursor: c } : {}) });
      lat.push(performance.now() - s);
      if (page.items.length === 0 && !c) throw new Error('empty page');
    }
    seq = lat.sort((a, b) => a - b);
  } finally {
    await server.stop();
  }
  const p99 = pct(seq, 99);
  console.log(
    JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, loadavg1: loadavg()[0], node: process.version }, ops: OPS, sqlite: [s1, s2], postgres: p, backups: N, seedSeconds, list: { requests: seq.length, p50: pct(seq, 50), p99, max: seq[seq.length - 1] } }),
  );
  console.log(`
| operation (${OPS} backups, 1 in flight) | SQLite ops/s (before / after) | PostgreSQL ops/s | PostgreSQL / SQLite |
| --- | ---: | ---: | ---: |
${rows.join('\n')}

API list on PostgreSQL, ${N} backups of one database, sequential requests at random depths: ${seq.length} requests, p50 ${fmt(pct(seq, 50))} ms, p99 ${fmt(p99)} ms (target <= 20 ms: ${p99 <= 20 ? 'met' : 'MISSED'}); load average ${fmt(loadavg()[0]!, 1)}`);
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS ${schemaA} CASCADE; DROP SCHEMA IF EXISTS ${schemaB} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
