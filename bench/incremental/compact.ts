/**
 * Compaction (issue 12, item 5): on a private copy of the generated finance database, a full
 * (zstd-3 + AES) and 7 deltas (0.5% appended transactions each), then, each as its own timed
 * process: the compaction of the 7th delta into a new full (from storage only), a `--full`
 * backup of the same database (the reference: what a new chain costs when it reads the live
 * database), and the restores of the delta (full + 7 deltas) and of the compacted full.
 *
 *   pnpm build && tsx --conditions=@mfb/source bench/incremental/compact.ts [SIZE_MiB=256]
 *
 * Each engine run is `node bench/lib/engine-once.mjs` on the compiled engine (as `backupctl` runs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { BENCH_DATA_DIR, financeDb } from '../lib/finance-db.js';
import { MiB, timed, type Timed } from '../lib/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const sizeMiB = Number(process.argv[2] ?? 256);
const { path: original } = await financeDb(sizeMiB, { log: (m) => console.error(m) });
const work = mkdtempSync(join(BENCH_DATA_DIR, 'compact-'));
const db = join(work, 'live.db');
const storeDir = join(work, 'store');
const tmp = join(work, 'tmp');
const keyFile = join(work, 'key');
writeFileSync(keyFile, Buffer.alloc(32, 7).toString('base64'));
const once = join(here, '../lib/engine-once.mjs');

interface Out {
  elapsedMs: number;
  manifest?: { kind?: string; artifactKey: string; artifact: { sizeBytes: number }; chain?: { baseArtifactBytes: number; deltaArtifactBytes: number } };
}
const run = async (...args: string[]): Promise<{ t: Timed; out: Out }> => {
  const t = await timed(process.execPath, [once, ...args, '--storage', 'file://' + storeDir, '--tmp', tmp, '--key-file', keyFile, '--compression', 'zstd', '--level', '3']);
  return { t, out: JSON.parse(t.stdout.trim().split('\n').pop()!) as Out };
};

try {
  const src = new Database(original, { readonly: true });
  await src.backup(db);
  src.close();
  const live = new Database(db);
  const tx = (live.prepare('SELECT count(*) AS n FROM transactions').get() as { n: number }).n;
  live.close();
  const load0 = loadavg()[0]!;
  await run('backup', '--db', db);
  let last: Out | undefined;
  for (let i = 0; i < 7; i++) {
    const d = new Database(db);
    d.prepare(
      `INSERT INTO transactions (account_id, booked_on, value_on, amount_cents, payee_id, category_id, memo, booking_text, status, import_ref, transfer_id, created_at, updated_at)
       SELECT account_id, booked_on, value_on, amount_cents + 1, payee_id, category_id, memo, booking_text, status, import_ref || '-c${i}', transfer_id, created_at, updated_at
       FROM transactions ORDER BY id DESC LIMIT ?`,
    ).run(Math.round(tx / 200));
    d.close();
    last = (await run('backup', '--db', db)).out;
  }
  const delta = last!.manifest!;
  if (delta.kind !== 'delta') throw new Error(`the 7th backup is a ${delta.kind}`);
  const compact = await run('compact', '--artifact', delta.artifactKey);
  const full = await run('backup', '--db', db, '--full');
  const rDelta = await run('restore', '--artifact', delta.artifactKey, '--target', join(work, 'r-delta.db'));
  const rCompact = await run('restore', '--artifact', compact.out.manifest!.artifactKey, '--target', join(work, 'r-compact.db'));
  const chainBytes = delta.chain!.baseArtifactBytes + delta.chain!.deltaArtifactBytes;
  const rows: string[][] = [
    ['stored bytes: chain (full + 7 deltas) / compacted full / --full backup', `${(chainBytes / MiB).toFixed(1)} / ${(compact.out.manifest!.artifact.sizeBytes / MiB).toFixed(1)} / ${(full.out.manifest!.artifact.sizeBytes / MiB).toFixed(1)} MiB`],
    ['compaction vs --full backup (reads the live database): wall time', `${compact.t.wallS.toFixed(1)} s / ${full.t.wallS.toFixed(1)} s = ${(compact.t.wallS / full.t.wallS).toFixed(2)}`],
    ['restore: compacted full vs full + 7 deltas: wall time', `${rCompact.t.wallS.toFixed(1)} s / ${rDelta.t.wallS.toFixed(1)} s = ${(rCompact.t.wallS / rDelta.t.wallS).toFixed(2)}`],
    ['peak RSS: compaction / --full backup', `${(compact.t.maxRssBytes / MiB).toFixed(0)} / ${(full.t.maxRssBytes / MiB).toFixed(0)} MiB`],
  ];
  console.log(`compaction, ${sizeMiB} MiB database (${tx} transactions); load average ${load0.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}`);
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
