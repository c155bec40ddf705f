/**
 * Peak memory of `rekeyBackup` against the artifact size: re-encrypting must stream (a few
 * chunks in memory), not buffer the artifact. Generates an incompressible database of
 * SIZE_MIB, backs it up (gzip-1, key a, 1 MiB chunks) to a local storage, then rekeys it to
 * key b while sampling RSS every 20 ms. Prints the RSS before, the peak during the rekey and
 * the artifact size.
 *
 *   tsx --conditions=@mfb/source bench/rekey/memory.ts [SIZE_MIB=256]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createBackup, rekeyBackup } from '@mfb/backup';
import { openStorage } from '@mfb/storage';

const sizeMib = Number(process.argv[2] ?? 256);
const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'mfb-rekey-bench-'));
try {
  const src = join(dir, 'db.sqlite');
  const db = new Database(src);
  db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)');
  const ins = db.prepare('INSERT INTO blobs (b) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < sizeMib * 16; i++) ins.run(randomBytes(64 * 1024));
  })();
  db.close();
  await mkdir(join(dir, 'storage'));
  const storage = openStorage(`file://${join(dir, 'storage')}`);
  const a = randomBytes(32);
  const b = randomBytes(32);
  const { manifest } = await createBackup({ databaseId: 'bench', sourcePath: src, storage, compression: { algorithm: 'gzip', level: 1 }, encryption: { keyId: 'a', key: a }, tmpDir: join(dir, 'tmp') });
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = Date.now();
  await rekeyBackup({ copies: [{ target: 'local', storage, artifactKey: manifest.artifactKey }], keys: new Map([['a', a], ['b', b]]), toKeyId: 'b', tmpDir: join(dir, 'tmp') });
  clearInterval(timer);
  const mib = (n: number): string => (n / 1048576).toFixed(1);
  console.log(JSON.stringify({ artifactMiB: mib(manifest.artifact.sizeBytes), rssBeforeMiB: mib(before), rssPeakMiB: mib(peak), growthMiB: mib(peak - before), seconds: (Date.now() - t0) / 1000 }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
