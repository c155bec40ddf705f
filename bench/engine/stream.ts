/**
 * Full backups on the streaming snapshot (issue 12) against the references, interleaved in one
 * run, median of `reps`:
 *   ours zstd-3 + AES-256-GCM   vs `sqlite3 .backup` alone, `.backup` + `zstd -3 -T0`, `restic backup` (fresh repo)
 *   ours gzip-6 + AES-256-GCM   vs `.backup` + `pigz -6`
 * plus, as a diagnostic, ours zstd-3 + AES with `sourceCheck: quick` (PRAGMA quick_check in the
 * snapshot transaction; the default for these sizes is none). Ours = `node bench/lib/engine-once.mjs` on the compiled engine
 * (`pnpm build` first), whole process under `/usr/bin/time -v`.
 *
 *   node_modules/.bin/tsx bench/engine/stream.ts [sizeMiB=1024] [reps=3]
 *
 * Needs sqlite3, zstd, pigz, restic, /usr/bin/time.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DATA_DIR, financeDb } from '../lib/finance-db.js';
import { median, MiB, timed, timedShell, treeSize, type Timed } from '../lib/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const once = join(here, '../lib/engine-once.mjs');
const sizeMiB = Number(process.argv[2] ?? 1024);
const reps = Number(process.argv[3] ?? 3);
const { path: db } = await financeDb(sizeMiB, { log: (m) => console.error(m) });
const work = join(BENCH_DATA_DIR, `stream-bench-${process.pid}`);
mkdirSync(work, { recursive: true });
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const keyFile = join(work, 'key');
writeFileSync(keyFile, Buffer.alloc(32, 9).toString('base64'));
const log = (m: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
let seq = 0;
const fresh = (name: string): string => {
  const d = join(work, `${name}-${seq++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

interface Run {
  t: Timed;
  bytes: number;
  note?: string;
}
const ours = (compression: string, level: number, extra: string[] = []) => async (): Promise<Run> => {
  const d = fresh('ours');
  const t = await timed('node', [once, 'backup', '--db', db, '--storage', join(d, 'store'), '--tmp', join(d, 'tmp'), '--key-file', keyFile, '--compression', compression, '--level', String(level), ...extra]);
  const out = JSON.parse(t.stdout.trim().split('\n').pop()!) as { manifest: { artifact: { sizeBytes: number }; formatVersion: number }; snapshot: string; timings: unknown };
  rmSync(d, { recursive: true, force: true });
  return { t, bytes: out.manifest.artifact.sizeBytes, note: `v${out.manifest.formatVersion} ${out.snapshot}` };
};
const shell = (script: (d: string) => string, out?: string) => async (): Promise<Run> => {
  const d = fresh('ref');
  const t = await timedShell(script(d));
  const bytes = out ? treeSize(join(d, out)) : 0;
  rmSync(d, { recursive: true, force: true });
  return { t, bytes };
};
const restic = async (): Promise<Run> => {
  const d = fresh('restic');
  const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: join(d, 'repo'), RESTIC_CACHE_DIR: join(d, 'cache') };
  execFileSync('restic', ['init', '--quiet'], { env, stdio: 'ignore' });
  const before = treeSize(join(d, 'repo'));
  const t = await timed('restic', ['backup', '--quiet', db], { env });
  const bytes = treeSize(join(d, 'repo')) - before;
  rmSync(d, { recursive: true, force: true });
  return { t, bytes };
};

const cases: Record<string, () => Promise<Run>> = {
  'ours zstd-3 + AES': ours('zstd', 3),
  'sqlite3 .backup': shell((d) => `sqlite3 '${db}' ".backup '${d}/s.db'"`, 's.db'),
  '.backup + zstd -3 -T0': shell((d) => `sqlite3 '${db}' ".backup '${d}/s.db'" && zstd -q -3 -T0 '${d}/s.db' -o '${d}/s.db.zst' && rm '${d}/s.db'`, 's.db.zst'),
  'restic backup': restic,
  'ours gzip-6 + AES': ours('gzip', 6),
  '.backup + pigz -6': shell((d) => `sqlite3 '${db}' ".backup '${d}/s.db'" && pigz -6 -c '${d}/s.db' > '${d}/s.db.gz' && rm '${d}/s.db'`, 's.db.gz'),
  'ours zstd-3 + AES + quick_check': ours('zstd', 3, ['--check', 'quick']),
};
const names = Object.keys(cases);
const runs: Record<string, Run[]> = Object.fromEntries(names.map((n) => [n, []]));
const loads: string[] = [];
for (let r = 0; r < reps; r++) {
  loads.push(loadavg().map((x) => x.toFixed(1)).join(' '));
  // Interleaved, order reversed every other round so drift in machine load hits every case.
  for (const n of r % 2 ? [...names].reverse() : names) {
    const x = await cases[n]!();
    runs[n]!.push(x);
    log(`${n}: ${x.t.wallS.toFixed(2)} s, ${(x.t.maxRssBytes / MiB).toFixed(0)} MiB RSS, ${(x.bytes / MiB).toFixed(1)} MiB ${x.note ?? ''}`);
  }
}
loads.push(loadavg().map((x) => x.toFixed(1)).join(' '));
const med = (n: string): number => median(runs[n]!.map((x) => x.t.wallS));
const rss = (n: string): number => Math.max(...runs[n]!.map((x) => x.t.maxRssBytes)) / MiB;
const ratio = (a: string, b: string, target: number): string => {
  const v = med(a) / med(b);
  return `| ${a} vs ${b} | ${med(a).toFixed(2)} s | ${med(b).toFixed(2)} s | **${v.toFixed(2)}** | <= ${target} | ${v <= target ? 'met' : 'missed'} |`;
};
console.log(`\n${sizeMiB} MiB finance database, median of ${reps}, ${new Date().toISOString()}, load average (1/5/15 min) at the start of each round and the end: ${loads.join('; ')}\n`);
console.log('| comparison | ours | reference | ratio | target | |\n|---|---|---|---|---|---|');
console.log(ratio('ours zstd-3 + AES', 'sqlite3 .backup', 2.0));
console.log(ratio('ours zstd-3 + AES', '.backup + zstd -3 -T0', 1.0));
console.log(ratio('ours zstd-3 + AES', 'restic backup', 0.6));
console.log(ratio('ours gzip-6 + AES', '.backup + pigz -6', 0.6));
console.log(ratio('ours zstd-3 + AES + quick_check', 'sqlite3 .backup', 2.0));
console.log('\n| run | wall (each round) | median | peak RSS | stored MiB |\n|---|---|---|---|---|');
for (const n of names)
  console.log(`| ${n} | ${runs[n]!.map((x) => x.t.wallS.toFixed(2)).join(' / ')} | ${med(n).toFixed(2)} | ${rss(n).toFixed(0)} MiB | ${(median(runs[n]!.map((x) => x.bytes)) / MiB).toFixed(1)} |`);
console.log(JSON.stringify({ sizeMiB, reps, loads, runs: Object.fromEntries(names.map((n) => [n, runs[n]!.map((x) => ({ wallS: x.t.wallS, rss: x.t.maxRssBytes, bytes: x.bytes, note: x.note }))])) }));
