import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStorage, type StorageDriver } from '@mfb/storage';
import { copyBackup, createBackup, manifestKeyFor, readManifest, rekeyBackup, restoreBackup, verifyBackup, type Manifest } from '../src/index.js';
import { KEY_A, KEY_B, ledger, ls, makeLedgerDb, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
let nas: StorageDriver;
let src: string;
let old: Manifest;
const keys = new Map([
  ['a', KEY_A],
  ['b', KEY_B],
]);

beforeEach(async () => {
  sb = await sandbox();
  src = join(sb.dir, 'ledger.db');
  makeLedgerDb(src, { txs: 400 });
  nas = openStorage('file://' + join(sb.dir, 'nas'));
  // A small chunk size: the artifact spans many GCM chunks.
  old = (await createBackup({ databaseId: 'led', sourcePath: src, storage: sb.storage, compression: { algorithm: 'gzip', level: 1 }, encryption: { keyId: 'a', key: KEY_A, chunkSize: 4096 }, tmpDir: sb.tmpDir })).manifest;
  await copyBackup(sb.storage, nas, old);
});
afterEach(() => sb.cleanup());

const copies = () => [
  { target: 'local', storage: sb.storage, artifactKey: old.artifactKey },
  { target: 'nas', storage: nas, artifactKey: old.artifactKey },
];

describe('rekeyBackup', () => {
  it('re-encrypts into a new backup on every storage, proven, then deletes the old copies', async () => {
    const steps: string[] = [];
    const deleted: string[] = [];
    const res = await rekeyBackup({ copies: copies(), keys, toKeyId: 'b', tmpDir: sb.tmpDir, onStep: (s) => void steps.push(s), onOldCopyDeleted: async (t) => void deleted.push(t) });
    expect(steps).toEqual(['encrypted', 'verified', 'copied', 'recorded', 'old-deleted']);
    expect(deleted).toEqual(['local', 'nas']);
    expect(res.manifest).toMatchObject({ rekeyedFrom: old.backupId, createdAt: old.createdAt, snapshot: old.snapshot, encryption: { keyId: 'b', chunkSize: 4096 } });
    expect(res.backupId.slice(0, 19)).toBe(old.backupId.slice(0, 19));
    for (const s of [sb.storage, nas]) {
      expect(await s.head(old.artifactKey)).toBeNull();
      expect(await s.head(manifestKeyFor(old.artifactKey))).toBeNull();
      const v = await verifyBackup({ storage: s, artifactKey: res.manifest.artifactKey, keys: new Map([['b', KEY_B]]), tmpDir: sb.tmpDir });
      expect(v.manifest.backupId).toBe(res.backupId);
    }
    const to = join(sb.dir, 'restored.db');
    await restoreBackup({ storage: nas, artifactKey: res.manifest.artifactKey, keys: new Map([['b', KEY_B]]), tmpDir: sb.tmpDir, targetPath: to, mode: 'new' });
    expect(ledger(to)).toEqual(ledger(src));
    expect(await ls(sb.tmpDir)).toEqual([]);
  });

  it('a tampered source copy fails the rekey: old copies untouched, nothing of the new backup left', async () => {
    const fh = await open(join(sb.storageDir, old.artifactKey), 'r+');
    await fh.write(Buffer.from([0x42]), 0, 1, 5000);
    await fh.close();
    await expect(rekeyBackup({ copies: copies(), keys, toKeyId: 'b', tmpDir: sb.tmpDir })).rejects.toMatchObject({ code: expect.stringMatching(/BACKUP_AUTH_FAILED|BACKUP_CHECKSUM_MISMATCH/) });
    expect((await sb.storage.list('led/')).items.map((o) => o.key).sort()).toEqual([old.artifactKey, manifestKeyFor(old.artifactKey)].sort());
    expect((await nas.list('led/')).items.map((o) => o.key).sort()).toEqual([old.artifactKey, manifestKeyFor(old.artifactKey)].sort());
    await verifyBackup({ storage: nas, artifactKey: old.artifactKey, keys, tmpDir: sb.tmpDir });
  });

  it('refuses a backup of an incremental chain (formatVersion 3): a new id would break the chain', async () => {
    const v2 = (
      await createBackup({ databaseId: 'led', sourcePath: src, storage: sb.storage, compression: { algorithm: 'gzip', level: 1 }, encryption: { keyId: 'a', key: KEY_A }, tmpDir: sb.tmpDir, incremental: { minSizeBytes: 0 } })
    ).manifest;
    expect(v2.formatVersion).toBe(3);
    await expect(rekeyBackup({ copies: [{ target: 'local', storage: sb.storage, artifactKey: v2.artifactKey }], keys, toKeyId: 'b', tmpDir: sb.tmpDir })).rejects.toMatchObject({
      code: 'BACKUP_INVALID_OPTIONS',
    });
    expect((await readManifest(sb.storage, v2.artifactKey)).encryption?.keyId).toBe('a');
  });

  it('a backup already on the key is left alone', async () => {
    const res = await rekeyBackup({ copies: copies(), keys, toKeyId: 'a', tmpDir: sb.tmpDir });
    expect(res).toMatchObject({ unchanged: true, backupId: old.backupId });
    expect((await readManifest(nas, old.artifactKey)).backupId).toBe(old.backupId);
  });
});

describe('row counts in the manifest', () => {
  it('are recorded at backup time and checked on verify: a manifest that disagrees is BACKUP_MANIFEST_MISMATCH', async () => {
    expect(Object.values(old.snapshot.tables ?? {}).reduce((a, n) => a + n, 0)).toBeGreaterThan(400);
    const path = join(sb.storageDir, manifestKeyFor(old.artifactKey));
    const m = JSON.parse(await readFile(path, 'utf8')) as Manifest;
    const [table] = Object.keys(m.snapshot.tables!);
    m.snapshot.tables![table!]! += 1;
    await writeFile(path, JSON.stringify(m));
    await expect(verifyBackup({ storage: sb.storage, artifactKey: old.artifactKey, keys, tmpDir: sb.tmpDir })).rejects.toMatchObject({ code: 'BACKUP_MANIFEST_MISMATCH', message: expect.stringContaining('row counts differ') });
    // A manifest from before row counts existed is still verified.
    delete m.snapshot.tables;
    await writeFile(path, JSON.stringify(m));
    await verifyBackup({ storage: sb.storage, artifactKey: old.artifactKey, keys, tmpDir: sb.tmpDir });
  });
});
