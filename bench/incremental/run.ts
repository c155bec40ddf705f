/**
 * Incremental backups (issue 12) vs restic, references measured in the same run.
 *
 *   pnpm build && node_modules/.bin/tsx bench/incremental/run.ts [sizeMiB=1024]
 *
 * On a private copy of the generated finance database: our full backup (zstd-3 + AES, page
 * map) and `restic backup` (fresh repo, default compression); then 1% appended transactions ->
 * our delta vs restic's second backup (stored bytes added, wall time); then 1% random edits ->
 * the same; then 5 more small deltas and the restore of full + 7 deltas vs the restore of a
 * full of the same database (`--full`), with peak RSS. Prints a markdown table and a JSON line.
 * Needs restic, sqlite3 and /usr/bin/time (apt-get install restic sqlite3 time).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { BENCH_DATA_DIR, financeDb } from '../lib/finance-db.js';
import { timed, treeSize, type Timed } from '../lib/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const sizeMiB = Number(process.argv[2] ?? 1024);
const { path: original } = await financeDb(sizeMiB, { log: (m) => console.error(m) });
const work = mkdtempSync(join(BENCH_DATA_DIR, 'incr-'));
const db = join(work, 'live.db');
const storeDir = join(work, 'store');
const tmp = join(work, 'tmp');
const repo = join(work, 'restic');
const keyFile = join(work, 'key');
writeFileSync(keyFile, Buffer.alloc(32, 7).toString('base64'));
const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(work, 'restic-cache') };
// Ours = the compiled engine (`pnpm build` first), as backupctl runs it: no TypeScript loader in
// the process or its worker threads.
const once = join(here, '../lib/engine-once.mjs');
const MiB = 2 ** 20;

try {
  // A private, checkpointed copy (restic reads the file itself: its changes must be in it).
  const src = new Database(original, { readonly: true });
  await src.backup(db, { progress: () => 0x7fffffff });
  src.close();
  const checkpoint = (): void => {
    const d = new Database(db);
    d.pragma('wal_checkpoint(TRUNCATE)');
    d.close();
  };
  const live = new Database(db);
  live.pragma('journal_mode = WAL');
  const txCount = (live.prepare('SELECT count(*) AS n FROM transactions').get() as { n: number }).n;
  live.close();

  const ours = async (...args: string[]): Promise<{ t: Timed; out: { elapsedMs: number; manifest?: { kind?: string; artifact: { sizeBytes: number }; delta?: { changedPages: number }; snapshot: { sqlite: { pageCount: number } }; artifactKey: string } } }> => {
    const t = await timed('node', [once, ...args, '--storage', 'file://' + storeDir, '--tmp', tmp, '--key-file', keyFile]);
    return { t, out: JSON.parse(t.stdout.trim().split('\n').pop()!) };
  };
  const backup = (...extra: string[]) => ours('backup', '--db', db, ...extra);
  const restic = async (): Promise<{ t: Timed; added: number }> => {
    const before = existsSync(repo) ? treeSize(repo) : 0;
    const t = await timed('restic', ['backup', '--quiet', db], { env });
    return { t, added: treeSize(repo) - before };
  };
  execFileSync('restic', ['init', '--quiet'], { env, stdio: 'ignore' });

  const rows: string[][] = [];
  const row = (what: string, o: string, r: string, ratio: string, target: string): void => void rows.push([what, o, r, ratio, target]);
  const stored = (): number => treeSize(storeDir);

  // 1. full
  let s0 = existsSync(storeDir) ? stored() : 0;
  const full = await backup();
  const fullBytes = stored() - s0;
  const r0 = await restic();
  row('full backup: stored bytes', `${(fullBytes / MiB).toFixed(1)} MiB`, `${(r0.added / MiB).toFixed(1)} MiB`, (fullBytes / r0.added).toFixed(2), '');
  row('full backup: wall time', `${full.t.wallS.toFixed(2)} s`, `${r0.t.wallS.toFixed(2)} s`, (full.t.wallS / r0.t.wallS).toFixed(2), '');

  // 2. 1% appended transactions
  const n = Math.round(txCount / 100);
  let d = new Database(db);
  d.prepare(
    `INSERT INTO transactions (account_id, booked_on, value_on, amount_cents, payee_id, category_id, memo, booking_text, status, import_ref, transfer_id, created_at, updated_at)
     SELECT account_id, booked_on, value_on, amount_cents + 1, payee_id, category_id, memo, booking_text, status, import_ref || '-a', transfer_id, created_at, updated_at
     FROM transactions ORDER BY id DESC LIMIT ?`,
  ).run(n);
  d.close();
  checkpoint();
  s0 = stored();
  const a = await backup();
  const aBytes = stored() - s0;
  const ra = await restic();
  const pages = a.out.manifest!.snapshot.sqlite.pageCount;
  row(
    `after 1% appended rows (${n} transactions; ${a.out.manifest!.delta?.changedPages ?? '?'} of ${pages} pages changed): stored bytes added`,
    `${(aBytes / MiB).toFixed(1)} MiB`,
    `${(ra.added / MiB).toFixed(1)} MiB`,
    (aBytes / ra.added).toFixed(3),
    '<= 30 MB and <= 0.1x',
  );
  row('after 1% appended rows: wall time of that backup', `${a.t.wallS.toFixed(2)} s`, `${ra.t.wallS.toFixed(2)} s`, (a.t.wallS / ra.t.wallS).toFixed(2), '<= 0.5x restic');
  row('incremental vs our full backup: wall time', `${a.t.wallS.toFixed(2)} s`, `${full.t.wallS.toFixed(2)} s`, (a.t.wallS / full.t.wallS).toFixed(2), '<= 0.5x');

  // 3. 1% random edits
  d = new Database(db);
  d.prepare(`UPDATE transactions SET memo = coalesce(memo, '') || ' (edited)', updated_at = '2026-12-01T00:00:00Z' WHERE id IN (SELECT id FROM transactions ORDER BY random() LIMIT ?)`).run(n);
  d.close();
  checkpoint();
  s0 = stored();
  const e = await backup();
  const eBytes = stored() - s0;
  const re = await restic();
  row(
    `after 1% random row edits (${e.out.manifest!.delta?.changedPages ?? '?'} pages changed): stored bytes added`,
    `${(eBytes / MiB).toFixed(1)} MiB`,
    `${(re.added / MiB).toFixed(1)} MiB`,
    (eBytes / re.added).toFixed(3),
    '<= 0.3x',
  );
  row('after 1% random row edits: wall time', `${e.t.wallS.toFixed(2)} s`, `${re.t.wallS.toFixed(2)} s`, (e.t.wallS / re.t.wallS).toFixed(2), '');

  // 4. five more small deltas (0.1% appended each), then restore full + 7 deltas vs a full
  let last = e;
  for (let i = 0; i < 5; i++) {
    d = new Database(db);
    d.prepare(`INSERT INTO transactions (account_id, booked_on, value_on, amount_cents, payee_id, category_id, memo, booking_text, status, import_ref, transfer_id, created_at, updated_at)
      SELECT account_id, booked_on, value_on, amount_cents, payee_id, category_id, memo, booking_text, status, import_ref || ?, transfer_id, created_at, updated_at FROM transactions ORDER BY id LIMIT ?`).run(`-s${i}`, Math.round(n / 10));
    d.close();
    last = await backup();
  }
  const chainKind = `${last.out.manifest!.kind} (chain ${JSON.stringify((last.out.manifest as { chainLength?: number }).chainLength)})`;
  const fullNow = await backup('--full');
  const restore = (key: string, target: string) => ours('restore', '--artifact', key, '--target', target);
  const rc = await restore(last.out.manifest!.artifactKey, join(work, 'restored-chain.db'));
  const rf = await restore(fullNow.out.manifest!.artifactKey, join(work, 'restored-full.db'));
  row(`restore of full + 7 deltas (${chainKind}) vs restore of a full`, `${rc.t.wallS.toFixed(2)} s`, `${rf.t.wallS.toFixed(2)} s`, (rc.t.wallS / rf.t.wallS).toFixed(2), '<= 1.2x');
  row('restore of full + 7 deltas: peak RSS', `${(rc.t.maxRssBytes / MiB).toFixed(0)} MiB`, `${(rf.t.maxRssBytes / MiB).toFixed(0)} MiB`, '', '<= 200 MiB');
  row('our full backup: peak RSS', `${(full.t.maxRssBytes / MiB).toFixed(0)} MiB`, '', '', '');

  console.log(`\n${sizeMiB} MiB finance database (${txCount} transactions), load ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${new Date().toISOString()}\n`);
  console.log('| measurement | ours | reference (restic / full) | ratio | target |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(JSON.stringify({ sizeMiB, rows }));
} finally {
  rmSync(work, { recursive: true, force: true });
}
