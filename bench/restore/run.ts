/**
 * Restore benchmark (issue 12): our restore of a full backup against `gunzip` +
 * `sqlite3 "PRAGMA integrity_check"`, and the restore of a full + 7 deltas against the restore
 * of a full, all measured in the same run, interleaved, median of `--reps`.
 *
 *   pnpm -s build && node_modules/.bin/tsx --conditions=@mfb/source bench/restore/run.ts [--size-mib 1024] [--reps 3]
 *
 * A fixture is built once and reused (`$MFB_BENCH_DATA/restore-fixture-<size>`): a private
 * copy of the generated finance database; its gzip-6 + AES-256-GCM full backup; the reference
 * artifact (`sqlite3 .backup` then `pigz -6`, as bench/engine does); and a zstd-3 + AES chain
 * built as bench/incremental does (full, 1% appended rows, 1% random edits, 5 x 0.1% appended)
 * plus a `--full` of the same final database. Every restore is its own process under
 * `/usr/bin/time -v` (wall time, peak RSS):
 *
 * - `cli`: the compiled operator CLI, `backupctl restore --from-dir STORE KEY --to PATH` (what
 *   users run; peak RSS targets are measured here);
 * - `engine`: `tsx bench/engine/restore-once.ts` (the engine benchmark's harness: TypeScript
 *   source through tsx, as in bench/engine/RESULTS.md).
 *
 * `--baseline DIR` adds the same CLI restores run from another built checkout (e.g. main before
 * a change) to the same rounds. Needs sqlite3, pigz, gunzip and /usr/bin/time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createBackup, type Manifest } from '@mfb/backup';
import { openStorage } from '@mfb/storage';
import { BENCH_DATA_DIR, financeDb } from '../lib/finance-db.js';
import { median, MiB, timed, timedShell, type Timed } from '../lib/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const tsx = join(repo, 'node_modules/.bin/tsx');
const cli = join(repo, 'apps/cli/bin/backupctl.js');
const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    reps: { type: 'string', default: '3' },
    db: { type: 'string' },
    only: { type: 'string' },
    baseline: { type: 'string' },
  },
});
const sizeMiB = Number(values['size-mib']);
const reps = Number(values.reps);
const log = (m: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const uptime = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
if (!existsSync(join(repo, 'apps/cli/dist/main.js'))) throw new Error('run `pnpm -s build` first (the CLI runs compiled)');

// ---------------------------------------------------------------------------------------------
// Fixture (built once)
const fx = join(BENCH_DATA_DIR, `restore-fixture-${sizeMiB}`);
const store = join(fx, 'store');
const keyFile = join(fx, 'key');
const fixtureFile = join(fx, 'fixture.json');
interface Fixture {
  gzipFull: string;
  zstdChain: string;
  zstdFull: string;
  refGz: string;
  chainLength: number;
  pages: number;
}
if (!existsSync(fixtureFile)) {
  const original = values.db ?? (await financeDb(sizeMiB, { log })).path;
  rmSync(fx, { recursive: true, force: true });
  mkdirSync(join(fx, 'tmp'), { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, Buffer.alloc(32, 7).toString('base64') + '\n', { mode: 0o600 });
  const key = Buffer.alloc(32, 7);
  const live = join(fx, 'live.db');
  const src = new Database(original, { readonly: true });
  await src.backup(live, { progress: () => 0x7fffffff });
  src.close();
  const storage = openStorage(store);
  const backup = async (databaseId: string, algorithm: 'gzip' | 'zstd', level: number, full = false): Promise<Manifest> => {
    const r = await createBackup({
      databaseId,
      sourcePath: live,
      storage,
      compression: { algorithm, level },
      encryption: { keyId: 'bench', key },
      tmpDir: join(fx, 'tmp'),
      incremental: { forceFull: full, fullEvery: 100, maxChainRatio: 100 },
    });
    log(`fixture: ${databaseId} ${r.manifest.kind ?? 'v1'} ${(r.manifest.artifact.sizeBytes / MiB).toFixed(1)} MiB`);
    return r.manifest;
  };
  const gzipFull = await backup('gzip6', 'gzip', 6, true);
  // The reference artifact: what bench/engine restores with gunzip.
  const refGz = join(fx, 'ref.sqlite.gz');
  execFileSync('sh', ['-c', `sqlite3 '${live}' ".backup '${fx}/ref.sqlite'" && pigz -6 -c '${fx}/ref.sqlite' > '${refGz}' && rm '${fx}/ref.sqlite'`]);
  // The chain, as bench/incremental builds it.
  await backup('chain', 'zstd', 3, true);
  const d = new Database(live);
  const n = Math.round((d.prepare('SELECT count(*) FROM transactions').pluck().get() as number) / 100);
  const cols = 'account_id, booked_on, value_on, amount_cents, payee_id, category_id, memo, booking_text, status, import_ref, transfer_id, created_at, updated_at';
  d.prepare(`INSERT INTO transactions (${cols}) SELECT ${cols.replace('import_ref', "import_ref || '-a'")} FROM transactions ORDER BY id DESC LIMIT ?`).run(n);
  d.pragma('wal_checkpoint(TRUNCATE)');
  await backup('chain', 'zstd', 3);
  d.prepare(`UPDATE transactions SET memo = coalesce(memo, '') || ' (edited)' WHERE id IN (SELECT id FROM transactions ORDER BY random() LIMIT ?)`).run(n);
  d.pragma('wal_checkpoint(TRUNCATE)');
  await backup('chain', 'zstd', 3);
  let last!: Manifest;
  for (let i = 0; i < 5; i++) {
    d.prepare(`INSERT INTO transactions (${cols}) SELECT ${cols.replace('import_ref', `import_ref || '-s${i}'`)} FROM transactions ORDER BY id LIMIT ?`).run(Math.round(n / 10));
    d.pragma('wal_checkpoint(TRUNCATE)');
    last = await backup('chain', 'zstd', 3);
  }
  d.close();
  const zstdFull = await backup('chainfull', 'zstd', 3, true);
  if (last.kind !== 'delta' || last.chainLength !== 7) throw new Error(`expected the 7th delta, got ${last.kind} ${last.chainLength}`);
  rmSync(live, { force: true });
  const f: Fixture = { gzipFull: gzipFull.artifactKey, zstdChain: last.artifactKey, zstdFull: zstdFull.artifactKey, refGz, chainLength: last.chainLength!, pages: last.snapshot.sqlite.pageCount };
  writeFileSync(fixtureFile + '.tmp', JSON.stringify(f, null, 2));
  renameSync(fixtureFile + '.tmp', fixtureFile);
}
const fixture = JSON.parse(execFileSync('cat', [fixtureFile], { encoding: 'utf8' })) as Fixture;
if (reps === 0) process.exit(0);

// ---------------------------------------------------------------------------------------------
const work = join(fx, `run-${process.pid}`);
mkdirSync(work, { recursive: true, mode: 0o700 });
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let seq = 0;

interface Run {
  t: Timed;
  timings?: Record<string, number>;
}
async function viaCli(key: string, bin = cli): Promise<Run> {
  const dir = join(work, `cli-${seq++}`);
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  const t = await timed('node', [bin, '--json', '-q', 'restore', key, '--from-dir', store, '--key-file', `bench=${keyFile}`, '--tmp-dir', join(dir, 'tmp'), '--to', join(dir, 'restored.db')]);
  const out = JSON.parse(t.stdout) as { integrity: string; tables: Record<string, number> };
  if (out.integrity !== 'ok') throw new Error(`restore said ${t.stdout}`);
  rmSync(dir, { recursive: true, force: true });
  return { t };
}
async function viaEngine(key: string): Promise<Run> {
  const dir = join(work, `engine-${seq++}`);
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  const t = await timed(tsx, ['--conditions=@mfb/source', join(repo, 'bench/engine/restore-once.ts'), '--storage', store, '--key', key, '--to', join(dir, 'restored.db'), '--tmp', join(dir, 'tmp'), '--key-file', keyFile]);
  const out = JSON.parse(t.stdout.trim().split('\n').pop()!) as { integrity: string; timings?: Record<string, number> };
  if (out.integrity !== 'ok') throw new Error(`restore said ${t.stdout}`);
  rmSync(dir, { recursive: true, force: true });
  return { t, ...(out.timings ? { timings: out.timings } : {}) };
}
async function reference(): Promise<Run> {
  const dir = join(work, `ref-${seq++}`);
  mkdirSync(dir, { recursive: true });
  const to = join(dir, 'restored.db');
  const t = await timedShell(`gunzip -c '${fixture.refGz}' > '${to}' && sqlite3 '${to}' 'PRAGMA integrity_check'`);
  if (t.stdout.trim() !== 'ok') throw new Error(`reference integrity_check said ${t.stdout}`);
  rmSync(dir, { recursive: true, force: true });
  return { t };
}

const cases: Record<string, () => Promise<Run>> = {
  reference,
  'cli gzip-6 full': () => viaCli(fixture.gzipFull),
  'engine gzip-6 full': () => viaEngine(fixture.gzipFull),
  'cli zstd-3 full': () => viaCli(fixture.zstdFull),
  'cli zstd-3 full + 7 deltas': () => viaCli(fixture.zstdChain),
};
if (values.baseline) {
  // The same CLI built from another checkout (e.g. main before a change), in the same rounds.
  const bin = join(resolve(values.baseline), 'apps/cli/bin/backupctl.js');
  cases['baseline cli gzip-6 full'] = () => viaCli(fixture.gzipFull, bin);
  cases['baseline cli zstd-3 full'] = () => viaCli(fixture.zstdFull, bin);
  cases['baseline cli zstd-3 full + 7 deltas'] = () => viaCli(fixture.zstdChain, bin);
}
const names = values.only ? values.only.split(',') : Object.keys(cases);
const runs: Record<string, Run[]> = Object.fromEntries(names.map((n) => [n, []]));
const loads: string[] = [uptime()];
for (let r = 0; r < reps; r++) {
  // Rotate the order so that drift in the machine's load hits every case alike.
  const order = names.map((_, i) => names[(i + r) % names.length]!);
  for (const name of order) {
    const run = await cases[name]!();
    runs[name]!.push(run);
    log(`${name}: ${run.t.wallS.toFixed(2)} s, ${(run.t.maxRssBytes / MiB).toFixed(0)} MiB${run.timings ? ` ${JSON.stringify(run.timings)}` : ''} (load ${uptime()})`);
  }
  loads.push(uptime());
}

const med = (n: string): number => median(runs[n]!.map((x) => x.t.wallS));
const rss = (n: string): number => Math.max(...runs[n]!.map((x) => x.t.maxRssBytes)) / MiB;
console.log(`\n${sizeMiB} MiB finance database (${fixture.pages} pages), ${new Date().toISOString()}, median of ${reps}, load (uptime) ${loads.join(' -> ')}\n`);
console.log('| run | wall s (all) | median s | peak RSS max | vs reference | vs cli zstd-3 full |');
console.log('|---|---|---|---|---|---|');
for (const n of names) {
  const all = runs[n]!.map((x) => x.t.wallS.toFixed(2)).join(' / ');
  const vsRef = runs.reference ? (med(n) / med('reference')).toFixed(2) : '';
  const vsFull = runs['cli zstd-3 full'] ? (med(n) / med('cli zstd-3 full')).toFixed(2) : '';
  console.log(`| ${n} | ${all} | ${med(n).toFixed(2)} | ${rss(n).toFixed(0)} MiB | ${vsRef} | ${vsFull} |`);
}
console.log(JSON.stringify({ sizeMiB, reps, loads, runs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => ({ wallS: x.t.wallS, rssMiB: x.t.maxRssBytes / MiB, userS: x.t.userS, sysS: x.t.sysS, timings: x.timings }))])) }));
