/**
 * Page-identical snapshot options (issue 12), quiet source, same run:
 *   VACUUM INTO (renumbers pages: not usable for deltas, the reference), the online backup API
 *   in one step (page-identical), the same + PRAGMA quick_check, and sqlite3_serialize()
 *   (page-identical, one read transaction, but the whole database in memory).
 *
 *   node_modules/.bin/tsx --conditions=@mfb/source bench/incremental/snapshot-methods.ts [sizeMiB=256] [rounds=3]
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { financeDb, BENCH_DATA_DIR } from '../lib/finance-db.js';

const sizeMiB = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 3);
const { path } = await financeDb(sizeMiB, { log: (m) => console.error(m) });
const scratch = mkdtempSync(join(BENCH_DATA_DIR, 'snapmethods-'));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(fn: () => Promise<void> | void): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}
const methods: Record<string, (dest: string) => Promise<void> | void> = {
  'VACUUM INTO': (dest) => {
    const db = new Database(path, { readonly: true });
    db.prepare('VACUUM INTO ?').run(dest);
    db.close();
  },
  'backup API, one step': async (dest) => {
    const db = new Database(path, { readonly: true });
    await db.backup(dest, { progress: () => 0x7fffffff });
    db.close();
  },
  'backup API, one step + quick_check': async (dest) => {
    const db = new Database(path, { readonly: true });
    await db.backup(dest, { progress: () => 0x7fffffff });
    db.close();
    const s = new Database(dest);
    s.pragma('journal_mode = DELETE');
    if (s.pragma('quick_check', { simple: true }) !== 'ok') throw new Error('quick_check');
    s.close();
  },
  'serialize() (in memory)': (dest) => {
    const db = new Database(path, { readonly: true });
    const buf = db.serialize();
    db.close();
    void dest;
    if (buf.length < 1) throw new Error('empty');
  },
};
console.log(`| method (${sizeMiB} MiB finance db, median of ${rounds}) | seconds | peak RSS delta MiB |`);
console.log('|---|---|---|');
for (const [name, fn] of Object.entries(methods)) {
  const ts: number[] = [];
  let rss = 0;
  for (let r = 0; r < rounds; r++) {
    const dest = join(scratch, `snap-${r}.db`);
    const before = process.memoryUsage().rss;
    let peak = before;
    const iv = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    ts.push(await time(() => fn(dest)));
    clearInterval(iv);
    peak = Math.max(peak, process.memoryUsage().rss);
    rss = Math.max(rss, (peak - before) / 2 ** 20);
    try {
      statSync(dest);
      rmSync(dest);
    } catch {
      /* serialize writes nothing */
    }
    global.gc?.();
  }
  console.log(`| ${name} | ${median(ts).toFixed(2)} | ${rss.toFixed(0)} |`);
}
rmSync(scratch, { recursive: true, force: true });
