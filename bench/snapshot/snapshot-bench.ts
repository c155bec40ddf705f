/**
 * Snapshot method under write load: VACUUM INTO vs the online backup API.
 *
 *   node_modules/.bin/tsx bench/snapshot/snapshot-bench.ts [sizeMiB=128] [journal=wal|delete]
 *
 * For each method a separate writer PROCESS commits small transactions continuously while the
 * snapshot runs. Reports wall time, backup-API restarts, whether it finished within the
 * deadline, and the writer's commits during the snapshot. Results go in docs/architecture.md.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
// `node --import <tsx loader>` rather than the tsx CLI: the CLI wrapper relays SIGTERM and can
// exit before the writer's last line reaches us.
const TSX_LOADER = pathToFileURL(join(here, '../../node_modules/tsx/dist/loader.mjs')).href;
const sizeMiB = Number(process.argv[2] ?? 128);
const journal = process.argv[3] ?? 'wal';
const DEADLINE_MS = Number(process.argv[4] ?? 60_000);

function generate(path: string): void {
  const db = new Database(path);
  db.pragma(`journal_mode = ${journal}`);
  db.exec(`CREATE TABLE entries (id INTEGER PRIMARY KEY, tx INTEGER NOT NULL, account INTEGER NOT NULL,
             amount INTEGER NOT NULL, memo TEXT NOT NULL);
           CREATE INDEX entries_tx ON entries(tx); CREATE INDEX entries_account ON entries(account, tx);`);
  const ins = db.prepare('INSERT INTO entries (tx, account, amount, memo) VALUES (?, ?, ?, ?)');
  const words = ['groceries', 'rent', 'salary', 'coffee', 'transfer', 'insurance', 'utilities', 'dining', 'fuel', 'books'];
  let n = 0;
  const batch = db.transaction(() => {
    for (let i = 0; i < 20_000; i++, n++) {
      const memo = `${words[n % 10]} payment ref ${n * 7919} ${words[(n * 3) % 10]} ${'x'.repeat(n % 60)}`;
      const a = 1 + (n % 5000);
      ins.run(n, 1 + (n % 20), a, memo);
      ins.run(n, 21 + (n % 20), -a, memo);
    }
  });
  while (statSync(path).size < sizeMiB * 1024 * 1024) batch();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function startWriter(db: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=@mfb/source', '--import', TSX_LOADER, join(here, 'writer.ts'), db], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.on('exit', (code, sig) => console.error(`writer exited code=${code} signal=${sig}`));
  const rl = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve) => rl.once('line', () => resolve()));
  (child as ChildProcess & { rl: typeof rl }).rl = rl;
  await new Promise((r) => setTimeout(r, 300));
  return child;
}

async function stopWriter(child: ChildProcess): Promise<number> {
  const rl = (child as ChildProcess & { rl: ReturnType<typeof createInterface> }).rl;
  const line = new Promise<string>((resolve) => rl.once('line', resolve));
  child.kill('SIGTERM');
  return (JSON.parse(await line) as { commits: number }).commits;
}

interface Row {
  method: string;
  seconds: number;
  finished: boolean;
  restarts: number;
  writerCommits: number;
  outputMiB: number;
}

async function measure(name: string, src: string, dest: string, run: (db: Database.Database) => Promise<{ restarts: number; finished: boolean }>): Promise<Row> {
  rmSync(dest, { force: true });
  const writer = await startWriter(src);
  const db = new Database(src, { readonly: true, timeout: 600_000 });
  const t0 = performance.now();
  const r = await run(db);
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  const writerCommits = await stopWriter(writer);
  let outputMiB = 0;
  try {
    outputMiB = statSync(dest).size / 1048576;
  } catch {
    /* unfinished */
  }
  return { method: name, seconds: +seconds.toFixed(2), ...r, writerCommits, outputMiB: +outputMiB.toFixed(1) };
}

const dir = mkdtempSync(join(tmpdir(), 'mfb-snapbench-'));
try {
  const src = join(dir, 'src.db');
  const t0 = performance.now();
  generate(src);
  console.log(`generated ${(statSync(src).size / 1048576).toFixed(0)} MiB ${journal} db in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const dest = join(dir, 'snap.db');
  const rows: Row[] = [];

  rows.push(
    await measure('backup API, default steps (100 pages)', src, dest, async (db) => {
      let restarts = 0;
      let last = Infinity;
      const started = Date.now();
      try {
        await db.backup(dest, {
          progress: ({ remainingPages, totalPages }) => {
            // A restart sends the copy back to page 1: remaining jumps back to ~total.
            if (remainingPages > last && remainingPages >= totalPages - 150) restarts++;
            last = remainingPages;
            if (Date.now() - started > DEADLINE_MS) throw new Error('deadline');
            return 100;
          },
        });
        return { restarts, finished: true };
      } catch {
        return { restarts, finished: false };
      }
    }),
  );
  rows.push(
    await measure('backup API, one step (all pages)', src, dest, async (db) => {
      await db.backup(dest, { progress: () => 0x7fffffff });
      return { restarts: 0, finished: true };
    }),
  );
  rows.push(
    await measure('backup API one step + quick_check', src, dest, async (db) => {
      await db.backup(dest, { progress: () => 0x7fffffff });
      const s = new Database(dest);
      s.pragma('quick_check');
      s.close();
      return { restarts: 0, finished: true };
    }),
  );
  rows.push(
    await measure('VACUUM INTO', src, dest, async (db) => {
      db.prepare('VACUUM INTO ?').run(dest);
      return { restarts: 0, finished: true };
    }),
  );
  console.log(`\n| method | seconds | finished | restarts | writer commits during snapshot | output MiB |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.method} | ${r.seconds} | ${r.finished} | ${r.restarts} | ${r.writerCommits} | ${r.outputMiB} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
