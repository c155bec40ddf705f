/**
 * Engine benchmark: our backup/restore against the reference tools, side by side, in one run.
 * Results: bench/engine/RESULTS.md (+ results.json). Generated databases and all outputs live
 * under /work/bench-data (never in the repository).
 *
 *   bench/engine/run.sh [--size-mib 1024] [--small-mib 256] [--reps 3] [--out bench/engine/RESULTS.md]
 *
 * Every "ours" measurement is a separate process (`tsx bench/engine/backup-once.ts` /
 * `restore-once.ts`) under `/usr/bin/time -v`, so the wall time includes process start-up
 * and TypeScript loading (~0.5 s), and the peak RSS is that process's.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { financeDb, summarizeFinanceDb } from '../lib/finance-db.js';
import { fileSize, machineInfo, median, MiB, timed, timedShell, treeSize, type Timed } from '../lib/proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const tsx = join(repo, 'node_modules/.bin/tsx');

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'small-mib': { type: 'string', default: '256' },
    reps: { type: 'string', default: '3' },
    'data-dir': { type: 'string', default: process.env.MFB_BENCH_DATA ?? '/work/bench-data' },
    out: { type: 'string', default: join(here, 'RESULTS.md') },
    json: { type: 'string', default: join(here, 'results.json') },
  },
});
const sizeMiB = Number(values['size-mib']);
const smallMiB = Number(values['small-mib']);
const reps = Number(values.reps);
const dataDir = values['data-dir']!;
const work = join(dataDir, `engine-run-${new Date().toISOString().replace(/[:.]/g, '')}`);
mkdirSync(work, { recursive: true, mode: 0o700 });
// Also on a crash: a failed run must not leave gigabytes behind.
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const log = (m: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const keyFile = join(work, 'bench.key');
writeFileSync(keyFile, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
const machineBefore = machineInfo();

// ---------------------------------------------------------------------------------------------
const big = await financeDb(sizeMiB, { dir: dataDir, log });
const small = await financeDb(smallMiB, { dir: dataDir, log });
const bigSummary = summarizeFinanceDb(big.path);

type Stages = Record<string, { first: number; last: number }>;
interface OursRun { t: Timed; elapsedMs: number; stages: Stages; artifactBytes: number; snapshotBytes: number; artifactKey: string; storage: string; snapshotSha: string }
let seq = 0;
async function ours(db: string, compression: 'gzip' | 'zstd', level: number, label: string, encrypt = true, snapshotMethod?: string): Promise<OursRun> {
  const dir = join(work, `ours-${label}-${seq++}`);
  const storage = join(dir, 'storage');
  const tmp = join(dir, 'tmp');
  mkdirSync(storage, { recursive: true, mode: 0o700 });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const t = await timed(tsx, ['--conditions=@mfb/source', join(here, 'backup-once.ts'), '--db', db, '--storage', storage, '--tmp', tmp, '--compression', compression, '--level', String(level), ...(encrypt ? ['--key-file', keyFile] : []), ...(snapshotMethod ? ['--snapshot-method', snapshotMethod] : [])]);
  const r = JSON.parse(t.stdout.trim().split('\n').pop()!) as {
    elapsedMs: number;
    stages: Stages;
    manifest: { artifactKey: string; artifact: { sizeBytes: number }; snapshot: { sizeBytes: number; sha256: string } };
  };
  const snapS = r.stages.snapshot ? r.stages.snapshot.last : NaN;
  log(`ours ${label}: ${t.wallS.toFixed(2)} s (in-process ${(r.elapsedMs / 1000).toFixed(2)}, snapshot done at ${snapS.toFixed(2)}), RSS ${(t.maxRssBytes / MiB).toFixed(0)} MiB, ${(r.manifest.artifact.sizeBytes / MiB).toFixed(1)} MiB`);
  return {
    t,
    elapsedMs: r.elapsedMs,
    stages: r.stages,
    artifactBytes: r.manifest.artifact.sizeBytes,
    snapshotBytes: r.manifest.snapshot.sizeBytes,
    artifactKey: r.manifest.artifactKey,
    storage,
    snapshotSha: r.manifest.snapshot.sha256,
  };
}

interface RefRun { t: Timed; outBytes: number; out: string; backupS: number; compressS: number }
async function refPigz(db: string, level: number, keep: boolean): Promise<RefRun> {
  const dir = join(work, `ref-pigz${level}-${seq++}`);
  mkdirSync(dir, { recursive: true });
  const snap = join(dir, 'snapshot.db');
  const out = join(dir, 'snapshot.db.gz');
  // Two processes, timed separately so the report can say where the time goes; the total is their sum.
  const b = await timedShell(`sqlite3 '${db}' ".backup '${snap}'"`);
  const c = await timedShell(`pigz -${level} -c '${snap}' > '${out}'`);
  const t: Timed = { ...c, wallS: b.wallS + c.wallS, userS: b.userS + c.userS, sysS: b.sysS + c.sysS, maxRssBytes: Math.max(b.maxRssBytes, c.maxRssBytes) };
  const outBytes = fileSize(out);
  log(`ref .backup+pigz-${level}: ${t.wallS.toFixed(2)} s (.backup ${b.wallS.toFixed(2)} + pigz ${c.wallS.toFixed(2)}), ${(outBytes / MiB).toFixed(1)} MiB`);
  if (!keep) rmSync(snap, { force: true });
  return { t, outBytes, out, backupS: b.wallS, compressS: c.wallS };
}

interface ResticRun { t: Timed; addedBytes: number }
async function restic(db: string): Promise<ResticRun> {
  const dir = join(work, `restic-${seq++}`);
  const env = { ...process.env, RESTIC_PASSWORD: 'bench-only-password', RESTIC_REPOSITORY: join(dir, 'repo'), RESTIC_CACHE_DIR: join(dir, 'cache') };
  execFileSync('restic', ['init', '--repository-version', '2', '--quiet'], { env, stdio: 'ignore' });
  const before = treeSize(join(dir, 'repo'));
  const t = await timed('restic', ['backup', '--quiet', '--compression', 'auto', db], { env });
  const addedBytes = treeSize(join(dir, 'repo')) - before;
  log(`restic backup: ${t.wallS.toFixed(2)} s, repo +${(addedBytes / MiB).toFixed(1)} MiB`);
  rmSync(dir, { recursive: true, force: true });
  return { t, addedBytes };
}

async function oursRestore(run: OursRun): Promise<Timed & { to: string }> {
  const dir = join(work, `restore-${seq++}`);
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  const to = join(dir, 'restored.db');
  const t = await timed(tsx, ['--conditions=@mfb/source', join(here, 'restore-once.ts'), '--storage', run.storage, '--key', run.artifactKey, '--to', to, '--tmp', join(dir, 'tmp'), '--key-file', keyFile]);
  const res = JSON.parse(t.stdout.trim().split('\n').pop()!) as { integrity: string };
  if (res.integrity !== 'ok') throw new Error(`restore integrity: ${res.integrity}`);
  log(`ours restore: ${t.wallS.toFixed(2)} s, RSS ${(t.maxRssBytes / MiB).toFixed(0)} MiB`);
  rmSync(dir, { recursive: true, force: true });
  return { ...t, to };
}

async function refRestore(gz: string): Promise<Timed> {
  const dir = join(work, `ref-restore-${seq++}`);
  mkdirSync(dir, { recursive: true });
  const to = join(dir, 'restored.db');
  const t = await timedShell(`gunzip -c '${gz}' > '${to}' && sqlite3 '${to}' 'PRAGMA integrity_check'`);
  if (t.stdout.trim() !== 'ok') throw new Error(`reference integrity_check said: ${t.stdout.trim()}`);
  log(`ref gunzip+integrity_check: ${t.wallS.toFixed(2)} s`);
  rmSync(dir, { recursive: true, force: true });
  return t;
}

const cleanup = (p: string) => rmSync(p, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
const runs = {
  gzip6: { ours: [] as OursRun[], ref: [] as RefRun[] },
  gzip1: { ours: [] as OursRun[], ref: [] as RefRun[], oursBackupApi: [] as OursRun[] },
  zstd3: { ours: [] as OursRun[], restic: [] as ResticRun[] },
  small: [] as OursRun[],
  restore: { ours: [] as Timed[], ref: [] as Timed[] },
};
let keptOurs: OursRun | null = null;
let keptRef: RefRun | null = null;
const started = new Date();
log(`work dir ${work}; ${reps} repetitions; database ${big.path}`);

for (let r = 0; r < reps; r++) {
  const oursFirst = r % 2 === 1; // alternate the order so drift in machine load hits both sides
  const pair = async <A, B>(a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> => {
    if (oursFirst) {
      const y = await b();
      return [await a(), y];
    }
    const x = await a();
    return [x, await b()];
  };
  log(`--- repetition ${r + 1}/${reps}`);
  const [ref6, ours6] = await pair(() => refPigz(big.path, 6, r === 0), () => ours(big.path, 'gzip', 6, 'gzip6'));
  runs.gzip6.ref.push(ref6);
  runs.gzip6.ours.push(ours6);
  if (r === 0) {
    keptOurs = ours6;
    keptRef = ref6;
  } else {
    cleanup(dirname(ref6.out));
    cleanup(dirname(ours6.storage));
  }
  const [ref1, ours1] = await pair(() => refPigz(big.path, 1, false), () => ours(big.path, 'gzip', 1, 'gzip1'));
  runs.gzip1.ref.push(ref1);
  runs.gzip1.ours.push(ours1);
  cleanup(dirname(ref1.out));
  cleanup(dirname(ours1.storage));
  // Diagnostic, not a target: the same with the SQLite backup-API snapshot instead of VACUUM INTO.
  const ours1b = await ours(big.path, 'gzip', 1, 'gzip1-backup-api', true, 'backup-api');
  runs.gzip1.oursBackupApi.push(ours1b);
  cleanup(dirname(ours1b.storage));
  const [rs, oz] = await pair(() => restic(big.path), () => ours(big.path, 'zstd', 3, 'zstd3'));
  runs.zstd3.restic.push(rs);
  runs.zstd3.ours.push(oz);
  cleanup(dirname(oz.storage));
  const sm = await ours(small.path, 'gzip', 6, `gzip6-${smallMiB}m`);
  runs.small.push(sm);
  cleanup(dirname(sm.storage));
}

log('--- restore');
for (let r = 0; r < reps; r++) {
  const oursFirst = r % 2 === 1;
  if (oursFirst) {
    const o = await oursRestore(keptOurs!);
    runs.restore.ours.push(o);
    runs.restore.ref.push(await refRestore(keptRef!.out));
  } else {
    runs.restore.ref.push(await refRestore(keptRef!.out));
    const o = await oursRestore(keptOurs!);
    runs.restore.ours.push(o);
  }
}

log('--- gzip -6 on the same snapshot');
// An unencrypted gzip-6 backup: plain `gunzip` gives back the exact snapshot (its SHA-256 is
// checked against the manifest), which `gzip -6` then compresses for the size comparison.
const plain = await ours(big.path, 'gzip', 6, 'gzip6-plain', false);
const plainSnap = join(work, 'plain-snapshot.db');
execFileSync('sh', ['-c', `gunzip -c '${join(plain.storage, plain.artifactKey)}' > '${plainSnap}'`]);
const restoredSha = execFileSync('sha256sum', [plainSnap], { encoding: 'utf8' }).split(' ')[0]!;
const sameSnapshot = restoredSha === plain.snapshotSha;
const gzip6Bytes = Number(execFileSync('sh', ['-c', `gzip -6 -c '${plainSnap}' | wc -c`], { encoding: 'utf8' }).trim());
log(`gzip -6 of our snapshot: ${(gzip6Bytes / MiB).toFixed(1)} MiB; ours unencrypted ${(plain.artifactBytes / MiB).toFixed(1)} MiB (gunzip gives the snapshot back: ${sameSnapshot})`);
const machineAfter = machineInfo();

// ---------------------------------------------------------------------------------------------
const med = (xs: Timed[]) => median(xs.map((t) => t.wallS));
const medO = (xs: OursRun[]) => median(xs.map((o) => o.t.wallS));
const medIn = (xs: OursRun[]) => median(xs.map((o) => o.elapsedMs / 1000));
const medSnap = (xs: OursRun[]) => median(xs.map((o) => o.stages.snapshot?.last ?? NaN));
const maxRss = (xs: OursRun[]) => Math.max(...xs.map((o) => o.t.maxRssBytes));
const mib = (b: number) => (b / MiB).toFixed(1);
const s2 = (x: number) => x.toFixed(2);
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

const r6 = medO(runs.gzip6.ours) / med(runs.gzip6.ref.map((x) => x.t));
const r1 = medO(runs.gzip1.ours) / med(runs.gzip1.ref.map((x) => x.t));
const rz = medO(runs.zstd3.ours) / med(runs.zstd3.restic.map((x) => x.t));
const zSize = median(runs.zstd3.ours.map((o) => o.artifactBytes));
const resticAdded = median(runs.zstd3.restic.map((x) => x.addedBytes));
const ours6Bytes = keptOurs!.artifactBytes;
const sizeDelta = plain.artifactBytes / gzip6Bytes - 1;
const rssBig = maxRss(runs.gzip6.ours);
const rssSmall = maxRss(runs.small);
const rssGrowth = rssBig / rssSmall - 1;
const rr = med(runs.restore.ours) / med(runs.restore.ref);

const results = {
  date: started.toISOString(),
  finished: new Date().toISOString(),
  machine: { ...machineBefore, loadavgBefore: machineBefore.loadavg, loadavgAfter: machineAfter.loadavg },
  database: { path: big.path, sizeBytes: fileSize(big.path), small: { path: small.path, sizeBytes: fileSize(small.path) }, summary: bigSummary },
  reps,
  runs: {
    gzip6: { ours: runs.gzip6.ours.map(slim), ref: runs.gzip6.ref.map((x) => ({ wallS: x.t.wallS, backupS: x.backupS, pigzS: x.compressS, bytes: x.outBytes, rss: x.t.maxRssBytes })) },
    gzip1: { ours: runs.gzip1.ours.map(slim), ref: runs.gzip1.ref.map((x) => ({ wallS: x.t.wallS, backupS: x.backupS, pigzS: x.compressS, bytes: x.outBytes, rss: x.t.maxRssBytes })), oursBackupApi: runs.gzip1.oursBackupApi.map(slim) },
    zstd3: { ours: runs.zstd3.ours.map(slim), restic: runs.zstd3.restic.map((x) => ({ wallS: x.t.wallS, addedBytes: x.addedBytes, rss: x.t.maxRssBytes })) },
    small: runs.small.map(slim),
    restore: { ours: runs.restore.ours.map((t) => ({ wallS: t.wallS, rss: t.maxRssBytes })), ref: runs.restore.ref.map((t) => ({ wallS: t.wallS })) },
  },
  sizes: { ours6Bytes, ours6PlainBytes: plain.artifactBytes, gzip6Bytes, sameSnapshot, pigz6Bytes: keptRef!.outBytes, zstd3Bytes: zSize, resticAddedBytes: resticAdded },
  ratios: { gzip6: r6, gzip1: r1, zstd3VsRestic: rz, zstdSizeVsRestic: zSize / resticAdded, gzip6SizeDelta: sizeDelta, rssGrowth, restore: rr },
};
function slim(o: OursRun) {
  return { wallS: o.t.wallS, inProcessS: o.elapsedMs / 1000, snapshotDoneS: o.stages.snapshot?.last ?? null, stages: o.stages, rss: o.t.maxRssBytes, userS: o.t.userS, sysS: o.t.sysS, artifactBytes: o.artifactBytes, snapshotBytes: o.snapshotBytes };
}
writeFileSync(values.json!, JSON.stringify(results, null, 2) + '\n');

const all = (xs: number[]) => xs.map(s2).join(' / ');
const md = `# Engine benchmark results

Generated by \`bench/engine/run.sh\` (\`bench/engine/run.ts\`); raw numbers in \`results.json\`.
Each number is the **median of ${reps} runs** (all runs listed); reference and ours alternate order
between repetitions. "Ours" is a separate process (\`tsx bench/engine/backup-once.ts\` / \`restore-once.ts\`)
measured end to end, including Node start-up and TypeScript loading; the in-process time is shown too.

- Date: ${started.toISOString()} to ${results.finished}
- Machine: ${machineBefore.cpu}, ${machineBefore.memory} RAM, Linux ${machineBefore.kernel}, Node ${machineBefore.node}
- Tools: sqlite3 ${machineBefore.sqlite3}, ${machineBefore.pigz}, ${machineBefore.gzip}, ${machineBefore.restic}
- Load average (1/5/15 min) before: ${machineBefore.loadavg}; after: ${machineAfter.loadavg} (the machine is shared with other work; both sides of each comparison ran under the same conditions, files are in the page cache for both)
- Database: generated personal-finance database (\`@mfb/demo-data\`, seed 1, WAL mode), ${mib(fileSize(big.path))} MiB, ${bigSummary.tables.transactions} transactions, ${bigSummary.tables.splits} splits, ${bigSummary.tables.budgets} budgets; small database ${mib(fileSize(small.path))} MiB
- Ours = snapshot + compression + AES-256-GCM (chunked) + SHA-256 (artifact and snapshot) + manifest, into local file storage (fsync + rename)

## Summary

| comparison | ours | reference | ratio / value | target | result |
|---|---|---|---|---|---|
| backup gzip-6 vs \`sqlite3 .backup\` + \`pigz -6\` | ${s2(medO(runs.gzip6.ours))} s | ${s2(med(runs.gzip6.ref.map((x) => x.t)))} s | ${s2(r6)} (in-process ${s2(medIn(runs.gzip6.ours) / med(runs.gzip6.ref.map((x) => x.t)))}) | <= 1.0 | ${verdict(r6 <= 1.0)} |
| backup gzip-1 vs \`.backup\` + \`pigz -1\` | ${s2(medO(runs.gzip1.ours))} s | ${s2(med(runs.gzip1.ref.map((x) => x.t)))} s | ${s2(r1)} (in-process ${s2(medIn(runs.gzip1.ours) / med(runs.gzip1.ref.map((x) => x.t)))}) | <= 1.0 | ${verdict(r1 <= 1.0)} |
| backup zstd-3 vs \`restic backup\` (fresh repo) | ${s2(medO(runs.zstd3.ours))} s | ${s2(med(runs.zstd3.restic.map((x) => x.t)))} s | ${s2(rz)} (in-process ${s2(medIn(runs.zstd3.ours) / med(runs.zstd3.restic.map((x) => x.t)))}) | <= 1.0 | ${verdict(rz <= 1.0)} |
| zstd-3 artifact vs what restic added to its repo | ${mib(zSize)} MiB | ${mib(resticAdded)} MiB | ${s2(zSize / resticAdded)} | <= 1.0 | ${verdict(zSize <= resticAdded)} |
| gzip-6 artifact (unencrypted) vs \`gzip -6\` of the same snapshot | ${mib(plain.artifactBytes)} MiB | ${mib(gzip6Bytes)} MiB | ${(sizeDelta * 100).toFixed(2)}% | within 1% (read as: at most 1% larger; smaller is better) | ${verdict(sizeDelta <= 0.01)}${sizeDelta < -0.01 ? ' (smaller by more than 1%)' : ''} |
| peak RSS, backup gzip-6 at ${smallMiB} MiB | ${mib(rssSmall)} MiB | | | <= 200 MiB | ${verdict(rssSmall <= 200 * MiB)} |
| peak RSS, backup gzip-6 at ${sizeMiB} MiB | ${mib(rssBig)} MiB | | | <= 200 MiB | ${verdict(rssBig <= 200 * MiB)} |
| peak RSS, backup zstd-3 at ${sizeMiB} MiB | ${mib(maxRss(runs.zstd3.ours))} MiB | | | <= 200 MiB | ${verdict(maxRss(runs.zstd3.ours) <= 200 * MiB)} |
| peak RSS, restore at ${sizeMiB} MiB | ${mib(Math.max(...runs.restore.ours.map((t) => t.maxRssBytes)))} MiB | | | <= 200 MiB | ${verdict(Math.max(...runs.restore.ours.map((t) => t.maxRssBytes)) <= 200 * MiB)} |
| RSS growth ${smallMiB} MiB -> ${sizeMiB} MiB | ${(rssGrowth * 100).toFixed(1)}% | | | <= 10% | ${verdict(rssGrowth <= 0.1)} |
| restore (verify + decrypt + decompress + integrity_check) vs \`gunzip\` + \`sqlite3 "PRAGMA integrity_check"\` | ${s2(med(runs.restore.ours))} s | ${s2(med(runs.restore.ref))} s | ${s2(rr)} | <= 1.2 | ${verdict(rr <= 1.2)} |

## All runs (wall seconds)

| measurement | runs | median | in-process median | peak RSS (max) |
|---|---|---|---|---|
| ours gzip-6 (${sizeMiB} MiB) | ${all(runs.gzip6.ours.map((o) => o.t.wallS))} | ${s2(medO(runs.gzip6.ours))} | ${s2(medIn(runs.gzip6.ours))} | ${mib(rssBig)} MiB |
| ref .backup + pigz -6 | ${all(runs.gzip6.ref.map((x) => x.t.wallS))} | ${s2(med(runs.gzip6.ref.map((x) => x.t)))} | | |
| ours gzip-1 | ${all(runs.gzip1.ours.map((o) => o.t.wallS))} | ${s2(medO(runs.gzip1.ours))} | ${s2(medIn(runs.gzip1.ours))} | ${mib(maxRss(runs.gzip1.ours))} MiB |
| ref .backup + pigz -1 | ${all(runs.gzip1.ref.map((x) => x.t.wallS))} | ${s2(med(runs.gzip1.ref.map((x) => x.t)))} | | |
| ours zstd-3 | ${all(runs.zstd3.ours.map((o) => o.t.wallS))} | ${s2(medO(runs.zstd3.ours))} | ${s2(medIn(runs.zstd3.ours))} | ${mib(maxRss(runs.zstd3.ours))} MiB |
| restic backup | ${all(runs.zstd3.restic.map((x) => x.t.wallS))} | ${s2(med(runs.zstd3.restic.map((x) => x.t)))} | | ${mib(Math.max(...runs.zstd3.restic.map((x) => x.t.maxRssBytes)))} MiB |
| ours gzip-6 (${smallMiB} MiB) | ${all(runs.small.map((o) => o.t.wallS))} | ${s2(medO(runs.small))} | ${s2(medIn(runs.small))} | ${mib(rssSmall)} MiB |
| ours restore | ${all(runs.restore.ours.map((t) => t.wallS))} | ${s2(med(runs.restore.ours))} | | ${mib(Math.max(...runs.restore.ours.map((t) => t.maxRssBytes)))} MiB |
| ref gunzip + integrity_check | ${all(runs.restore.ref.map((t) => t.wallS))} | ${s2(med(runs.restore.ref))} | | |

## Where the time goes (medians, seconds)

| run | snapshot | compress + encrypt + hash + store | in-process total | process start-up + exit | reference: \`.backup\` | reference: compressor |
|---|---|---|---|---|---|---|
| gzip-6 | ${s2(medSnap(runs.gzip6.ours))} | ${s2(medIn(runs.gzip6.ours) - medSnap(runs.gzip6.ours))} | ${s2(medIn(runs.gzip6.ours))} | ${s2(medO(runs.gzip6.ours) - medIn(runs.gzip6.ours))} | ${s2(median(runs.gzip6.ref.map((x) => x.backupS)))} | ${s2(median(runs.gzip6.ref.map((x) => x.compressS)))} (pigz -6) |
| gzip-1 | ${s2(medSnap(runs.gzip1.ours))} | ${s2(medIn(runs.gzip1.ours) - medSnap(runs.gzip1.ours))} | ${s2(medIn(runs.gzip1.ours))} | ${s2(medO(runs.gzip1.ours) - medIn(runs.gzip1.ours))} | ${s2(median(runs.gzip1.ref.map((x) => x.backupS)))} | ${s2(median(runs.gzip1.ref.map((x) => x.compressS)))} (pigz -1) |
| gzip-1, backup-API snapshot (diagnostic) | ${s2(medSnap(runs.gzip1.oursBackupApi))} | ${s2(medIn(runs.gzip1.oursBackupApi) - medSnap(runs.gzip1.oursBackupApi))} | ${s2(medIn(runs.gzip1.oursBackupApi))} | ${s2(medO(runs.gzip1.oursBackupApi) - medIn(runs.gzip1.oursBackupApi))} | wall ${s2(medO(runs.gzip1.oursBackupApi))}, ratio ${s2(medO(runs.gzip1.oursBackupApi) / med(runs.gzip1.ref.map((x) => x.t)))} | ${mib(median(runs.gzip1.oursBackupApi.map((o) => o.artifactBytes)))} MiB |
| zstd-3 | ${s2(medSnap(runs.zstd3.ours))} | ${s2(medIn(runs.zstd3.ours) - medSnap(runs.zstd3.ours))} | ${s2(medIn(runs.zstd3.ours))} | ${s2(medO(runs.zstd3.ours) - medIn(runs.zstd3.ours))} | | restic ${s2(med(runs.zstd3.restic.map((x) => x.t)))} (all in one) |

"snapshot" is when the engine reported the snapshot complete (its last \`snapshot\` progress event).

Sizes: ours gzip-6 ${mib(ours6Bytes)} MiB encrypted, ${mib(plain.artifactBytes)} MiB unencrypted (snapshot ${mib(keptOurs!.snapshotBytes)} MiB; the source file is ${mib(fileSize(big.path))} MiB),
\`pigz -6\` of the \`.backup\` copy ${mib(keptRef!.outBytes)} MiB, \`gzip -6\` of our own snapshot ${mib(gzip6Bytes)} MiB
(the snapshot was recovered from the unencrypted artifact with plain \`gunzip\`; its SHA-256 equals the manifest's: ${sameSnapshot}),
ours zstd-3 ${mib(zSize)} MiB, restic repository growth ${mib(resticAdded)} MiB.
`;
writeFileSync(values.out!, md + '\n<!-- NOTES -->\n');
log(`wrote ${values.out} and ${values.json}`);
process.stdout.write(md);
cleanup(work);
