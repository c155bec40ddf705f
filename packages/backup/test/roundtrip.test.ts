import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BACKUP_ID_RE,
  MANIFEST_SUFFIX,
  TOOL_VERSION,
  createBackup,
  inspectArtifact,
  manifestKeyFor,
  readManifest,
  restoreBackup,
  verifyBackup,
  type CompressionAlgorithm,
} from '../src/index.js';
import { KEY_A, integrity, ledger, ls, makeLedgerDb, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

function run(cmd: string, args: string[], stdinPath: string, stdoutPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    child.on('error', reject);
    const done = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
    Promise.all([pipeline(createReadStream(stdinPath), child.stdin), pipeline(child.stdout, createWriteStream(stdoutPath))])
      .then(() => done)
      .then(resolve, reject);
  });
}

describe('backup -> verify -> restore', () => {
  const cases: { algorithm: CompressionAlgorithm; level?: number; encrypted: boolean; ext: string }[] = [
    { algorithm: 'gzip', encrypted: false, ext: '.sqlite.gz' },
    { algorithm: 'gzip', level: 1, encrypted: true, ext: '.sqlite.gz.enc' },
    { algorithm: 'zstd', encrypted: false, ext: '.sqlite.zst' },
    { algorithm: 'zstd', level: 9, encrypted: true, ext: '.sqlite.zst.enc' },
    { algorithm: 'none', encrypted: false, ext: '.sqlite' },
    { algorithm: 'none', encrypted: true, ext: '.sqlite.enc' },
  ];
  for (const c of cases) {
    it(`${c.algorithm}${c.level ? '-' + c.level : ''}${c.encrypted ? ' encrypted' : ''}`, async () => {
      const src = join(sb.dir, 'finance.db');
      makeLedgerDb(src, { txs: 20_000, userVersion: 42 });
      const progress: string[] = [];
      const { manifest, manifestKey } = await createBackup({
        databaseId: 'finance',
        sourcePath: src,
        storage: sb.storage,
        compression: { algorithm: c.algorithm, ...(c.level ? { level: c.level } : {}) },
        ...(c.encrypted ? { encryption: { keyId: 'k1', key: KEY_A, chunkSize: 64 * 1024 } } : {}),
        tmpDir: sb.tmpDir,
        onProgress: (p) => progress.push(p.stage),
        now: () => new Date('2026-11-26T12:48:00.123Z'),
      });
      expect(manifest.backupId).toMatch(BACKUP_ID_RE);
      expect(manifest.backupId.startsWith('20261126T124800123Z-')).toBe(true);
      expect(manifest.artifactKey).toBe(`finance/${manifest.backupId}${c.ext}`);
      expect(manifestKey).toBe(manifest.artifactKey + MANIFEST_SUFFIX);
      expect(manifestKeyFor(manifest.artifactKey)).toBe(manifestKey);
      expect(manifest.snapshot.sqlite).toMatchObject({ pageSize: 4096, userVersion: 42, journalMode: 'wal' });
      expect(manifest.snapshot.sqlite.pageCount * 4096).toBe(manifest.snapshot.sizeBytes);
      expect(manifest.compression).toEqual({ algorithm: c.algorithm, level: c.level ?? (c.algorithm === 'gzip' ? 6 : c.algorithm === 'zstd' ? 3 : null) });
      expect(manifest.encryption).toEqual(c.encrypted ? { algorithm: 'aes-256-gcm-chunked-v1', keyId: 'k1', chunkSize: 65536 } : null);
      expect(manifest.tool).toEqual({ name: 'myfinance-backup', version: TOOL_VERSION });
      expect(progress).toContain('snapshot');
      expect(progress).toContain('compress');
      expect(await readManifest(sb.storage, manifest.artifactKey)).toEqual(manifest);
      const stored = join(sb.storageDir, manifest.artifactKey);
      expect((await stat(stored)).size).toBe(manifest.artifact.sizeBytes);
      expect((await stat(stored)).mode & 0o777).toBe(0o600);
      expect((await stat(sb.tmpDir)).mode & 0o777).toBe(0o700);
      expect(await ls(sb.tmpDir)).toEqual([]);
      if (c.algorithm !== 'none') expect(manifest.artifact.sizeBytes).toBeLessThan(manifest.snapshot.sizeBytes / 2);

      const insp = await inspectArtifact(sb.storage, manifest.artifactKey);
      expect(insp.encryptionHeader?.keyId ?? null).toBe(c.encrypted ? 'k1' : null);

      const keys = new Map([['k1', KEY_A]]);
      const v = await verifyBackup({ storage: sb.storage, artifactKey: manifest.artifactKey, keys, tmpDir: sb.tmpDir });
      expect(v.integrity).toBe('ok');
      expect(v.tables).toEqual({ accounts: 14, entries: 40_000 });

      const target = join(sb.dir, 'restored', 'finance.db');
      const r = await restoreBackup({ storage: sb.storage, artifactKey: manifest.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
      expect(r.targetPath).toBe(target);
      expect((await stat(target)).mode & 0o777).toBe(0o600);
      expect(integrity(target)).toBe('ok');
      expect(ledger(target)).toEqual(ledger(src));
      const db = new Database(target, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(42);
      db.close();
      expect(await ls(sb.tmpDir)).toEqual([]);
      expect((await ls(join(sb.dir, 'restored'))).filter((n) => n.includes('mfb'))).toEqual([]);
    });
  }
});

describe('standard tools restore unencrypted artifacts', () => {
  for (const [algorithm, cmd, args] of [
    ['gzip', 'gunzip', ['-c']],
    ['zstd', 'zstd', ['-d', '-c']],
  ] as const) {
    it(`${cmd} alone restores a ${algorithm} artifact`, async () => {
      const src = join(sb.dir, 'finance.db');
      // Larger than one compression block, so the artifact has several gzip members / zstd frames.
      makeLedgerDb(src, { txs: 60_000 });
      expect((await stat(src)).size).toBeGreaterThan(5 * 1024 * 1024);
      const { manifest } = await createBackup({ databaseId: 'finance', sourcePath: src, storage: sb.storage, compression: { algorithm }, tmpDir: sb.tmpDir });
      const out = join(sb.dir, 'by-hand.db');
      expect(await run(cmd, [...args], join(sb.storageDir, manifest.artifactKey), out)).toBe(0);
      expect(integrity(out)).toBe('ok');
      expect(ledger(out)).toEqual(ledger(src));
      const { createHash } = await import('node:crypto');
      expect(createHash('sha256').update(await readFile(out)).digest('hex')).toBe(manifest.snapshot.sha256);
    });
  }
});

describe('restore replace mode', () => {
  it('keeps a safety copy and the open connection of the live app sees the restored data', async () => {
    const live = join(sb.dir, 'live.db');
    makeLedgerDb(live, { txs: 3000 });
    const { manifest } = await createBackup({ databaseId: 'finance', sourcePath: live, storage: sb.storage, compression: { algorithm: 'gzip' }, encryption: { keyId: 'k1', key: KEY_A }, tmpDir: sb.tmpDir });

    // The app keeps its connection open and changes data after the backup.
    const app = new Database(live);
    app.exec("INSERT INTO entries (tx, account, amount, memo) VALUES (999999, 1, 500, 'after backup'), (999999, 8, -500, 'after backup')");
    app.exec('DELETE FROM entries WHERE tx < 100');
    const before = ledger(live);
    expect(before.entries).toBe(6000 - 200 + 2);

    const safetyDir = join(sb.dir, 'safety');
    const r = await restoreBackup({
      storage: sb.storage,
      artifactKey: manifest.artifactKey,
      keys: new Map([['k1', KEY_A]]),
      tmpDir: sb.tmpDir,
      targetPath: live,
      mode: 'replace',
      safetyCopyDir: safetyDir,
    });
    // Same connection, never reopened: it sees the restored content.
    expect((app.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n).toBe(6000);
    expect((app.prepare("SELECT count(*) AS n FROM entries WHERE memo = 'after backup'").get() as { n: number }).n).toBe(0);
    app.close();
    expect(integrity(live)).toBe('ok');
    expect(r.safetyCopyPath).toBeDefined();
    expect(r.safetyCopyPath!.startsWith(safetyDir)).toBe(true);
    expect((await stat(r.safetyCopyPath!)).mode & 0o777).toBe(0o600);
    expect((await stat(safetyDir)).mode & 0o777).toBe(0o700);
    expect(integrity(r.safetyCopyPath!)).toBe('ok');
    expect(ledger(r.safetyCopyPath!)).toEqual(before);
    expect(await ls(sb.tmpDir)).toEqual([]);
  });

  it('default safety copy dir is .pre-restore beside the target', async () => {
    const live = join(sb.dir, 'live.db');
    makeLedgerDb(live, { txs: 100, journal: 'delete' });
    const { manifest } = await createBackup({ databaseId: 'finance', sourcePath: live, storage: sb.storage, compression: { algorithm: 'zstd' }, tmpDir: sb.tmpDir });
    await writeFile(join(sb.dir, 'unrelated'), 'x');
    const r = await restoreBackup({ storage: sb.storage, artifactKey: manifest.artifactKey, keys: new Map(), tmpDir: sb.tmpDir, targetPath: live, mode: 'replace' });
    expect(r.safetyCopyPath!.startsWith(join(sb.dir, '.pre-restore') + '/')).toBe(true);
    expect(ledger(live).entries).toBe(200);
  });
});
