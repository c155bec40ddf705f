/**
 * Peak RSS and wall time of one engine backup (+ verify) of a generated database.
 *
 *   node_modules/.bin/tsx bench/snapshot/engine-rss.ts [sizeMiB=256] [gzip|zstd|none] [level]
 *
 * Run it at two sizes: peak RSS must not grow with the database (bounded block window).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createBackup, verifyBackup, type CompressionAlgorithm } from '@mfb/backup';
import { openStorage } from '@mfb/storage';

function generate(src: string, sizeMiB: number): void {
  const db = new Database(src);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE entries (id INTEGER PRIMARY KEY, tx INTEGER NOT NULL, account INTEGER NOT NULL, amount INTEGER NOT NULL, memo TEXT NOT NULL);
           CREATE INDEX entries_tx ON entries(tx);`);
  const ins = db.prepare('INSERT INTO entries (tx, account, amount, memo) VALUES (?, ?, ?, ?)');
  const words = ['groceries', 'rent', 'salary', 'coffee', 'transfer', 'insurance', 'utilities', 'dining', 'fuel', 'books'];
  let n = 0;
  const batch = db.transaction(() => {
    for (let i = 0; i < 20_000; i++, n++) ins.run(n, n % 40, (n * 7919) % 100_000, `${words[n % 10]} ref ${n * 31} ${words[(n * 7) % 10]} ${'x'.repeat(n % 50)}`);
  });
  while (statSync(src).size < sizeMiB * 1048576) batch();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

if (process.argv[2] === '--generate') {
  generate(process.argv[3]!, Number(process.argv[4]));
  process.exit(0);
}

const sizeMiB = Number(process.argv[2] ?? 256);
const algorithm = (process.argv[3] ?? 'gzip') as CompressionAlgorithm;
const level = process.argv[4] ? Number(process.argv[4]) : undefined;

function sh(cmd: string): number {
  const t = performance.now();
  execSync(cmd, { stdio: 'inherit', shell: '/bin/sh' });
  return (performance.now() - t) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'mfb-rss-'));
try {
  const src = join(dir, 'finance.db');
  // Generated in a child process so its memory does not count in this process's peak RSS.
  execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--generate', src, String(sizeMiB)], { stdio: 'inherit' });
  // Reference in the same run: sqlite3 .backup + pigz at the same level (gzip only).
  let refSeconds: number | null = null;
  let refRestoreSeconds: number | null = null;
  let refArtifactMiB: number | null = null;
  if (algorithm === 'gzip') {
    const l = level ?? 6;
    refSeconds = sh(`sqlite3 ${src} ".backup ${dir}/ref.db"`) + sh(`pigz -${l} -c ${dir}/ref.db > ${dir}/ref.db.gz`);
    refArtifactMiB = statSync(join(dir, 'ref.db.gz')).size / 1048576;
    rmSync(join(dir, 'ref.db'));
    refRestoreSeconds = sh(`gunzip -c ${dir}/ref.db.gz > ${dir}/ref2.db`) + sh(`sqlite3 ${dir}/ref2.db "PRAGMA integrity_check" > /dev/null`);
    rmSync(join(dir, 'ref.db.gz'));
    rmSync(join(dir, 'ref2.db'));
  }
  const rssBefore = process.resourceUsage().maxRSS / 1024;
  const stagePeak: Record<string, number> = {};
  const sample = (p: { stage: string }): void => {
    const rss = Math.round(process.memoryUsage().rss / 1048576);
    stagePeak[p.stage] = Math.max(stagePeak[p.stage] ?? 0, rss);
  };
  const storage = openStorage('file://' + join(dir, 'storage'));
  const key = Buffer.alloc(32, 1);
  const t0 = performance.now();
  const { manifest } = await createBackup({
    databaseId: 'bench',
    sourcePath: src,
    storage,
    compression: { algorithm, ...(level ? { level } : {}) },
    encryption: { keyId: 'k', key },
    tmpDir: join(dir, 'tmp'),
    onProgress: sample,
  });
  const backupS = (performance.now() - t0) / 1000;
  const rssBackup = process.resourceUsage().maxRSS / 1024;
  const t1 = performance.now();
  await verifyBackup({ storage, artifactKey: manifest.artifactKey, keys: new Map([['k', key]]), tmpDir: join(dir, 'tmp'), onProgress: sample });
  const verifyS = (performance.now() - t1) / 1000;
  console.log(
    JSON.stringify({
      dbMiB: +(manifest.snapshot.sizeBytes / 1048576).toFixed(1),
      algorithm,
      level: manifest.compression.level,
      artifactMiB: +(manifest.artifact.sizeBytes / 1048576).toFixed(1),
      referenceArtifactMiB: refArtifactMiB === null ? null : +refArtifactMiB.toFixed(1),
      backupSeconds: +backupS.toFixed(2),
      referenceSeconds: refSeconds === null ? null : +refSeconds.toFixed(2),
      ratio: refSeconds === null ? null : +(backupS / refSeconds).toFixed(2),
      verifySeconds: +verifyS.toFixed(2),
      referenceRestoreSeconds: refRestoreSeconds === null ? null : +refRestoreSeconds.toFixed(2),
      verifyRatio: refRestoreSeconds === null ? null : +(verifyS / refRestoreSeconds).toFixed(2),
      peakRssMiB_beforeBackup: Math.round(rssBefore),
      peakRssMiB_afterBackup: Math.round(rssBackup),
      peakRssMiB_afterVerify: Math.round(process.resourceUsage().maxRSS / 1024),
      rssMiBByStage: stagePeak,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
