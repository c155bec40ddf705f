/**
 * formatVersion 2 backups written before formatVersion 3 existed (fixtures/format-v2: a full
 * and two deltas of a small database, zstd + AES, written by the engine at commit 13a4454)
 * still restore and verify byte for byte, a compaction of them gives a version 3 full, and the
 * next backup after them starts a version 3 chain instead of extending theirs.
 */
import { createHash } from 'node:crypto';
import { cp, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compactBackup, createBackup, readManifest, restoreBackup, verifyBackup } from '../src/index.js';
import { sandbox, type Sandbox } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, 'fixtures/format-v2');
const keys = new Map([['fixture', Buffer.alloc(32, 7)]]);
const LINKS = [
  { key: 'legacy/20261202T000317087Z-6de98297.sqlite.zst.enc', sha: 'f9c5cdff0945519197ce6b96765cf2bbd65b46b78bbb70e646cc4b7e21b53ab3', rows: 400 },
  { key: 'legacy/20261202T000318463Z-a3fedbe9.delta.zst.enc', sha: 'e8f48ba1795f8634605b293f7f63a46aec84fdae811a988cb19d51dc138451f8', rows: 400 },
  { key: 'legacy/20261202T000319766Z-1ebffb23.delta.zst.enc', sha: 'b91107ed22716a54db32d8bdc81df4fceff33f0a5894c5e37682f94dbd5e281d', rows: 481 },
];
const fileSha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

describe('formatVersion 2 backups after formatVersion 3', () => {
  let sb: Sandbox;
  beforeEach(async () => {
    sb = await sandbox();
    await cp(FIXTURE, sb.storageDir, { recursive: true });
  });
  afterEach(async () => sb.cleanup());

  it('every link of a version 2 chain restores and verifies (file SHA-256 of the rebuilt image)', async () => {
    for (const [i, l] of LINKS.entries()) {
      const m = await readManifest(sb.storage, l.key);
      expect(m).toMatchObject({ formatVersion: 2, kind: i === 0 ? 'full' : 'delta' });
      expect(m.snapshot.sha256).toBe(l.sha);
      const target = join(sb.dir, `restored-${i}.db`);
      const res = await restoreBackup({ storage: sb.storage, artifactKey: l.key, keys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
      expect(res.tables).toEqual({ t: l.rows });
      // verify rebuilds the image in scratch and compares its file SHA-256 with the manifest's.
      await verifyBackup({ storage: sb.storage, artifactKey: l.key, keys, tmpDir: sb.tmpDir });
    }
  });

  it('compacting a version 2 delta gives a version 3 full of the same bytes; the next backup starts a version 3 chain', async () => {
    const last = LINKS[2]!;
    const c = await compactBackup({ storage: sb.storage, artifactKey: last.key, keys, tmpDir: sb.tmpDir, compression: { algorithm: 'gzip', level: 6 } });
    expect(c.manifest).toMatchObject({ formatVersion: 3, kind: 'full' });
    expect(c.manifest.snapshot.sha256).not.toBe(last.sha);
    const restored = join(sb.dir, 'compacted.db');
    const viaDelta = join(sb.dir, 'delta.db');
    await restoreBackup({ storage: sb.storage, artifactKey: c.manifest.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: restored, mode: 'new' });
    await restoreBackup({ storage: sb.storage, artifactKey: last.key, keys, tmpDir: sb.tmpDir, targetPath: viaDelta, mode: 'new' });
    expect(await fileSha(restored)).toBe(await fileSha(viaDelta));

    // A backup of a database whose newest backup is version 2 (a second database id sharing
    // the fixture's links would be foreign: use the fixture's own id on a fresh copy).
    const sb2 = await sandbox();
    try {
      await cp(FIXTURE, sb2.storageDir, { recursive: true });
      const opts = {
        databaseId: 'legacy',
        sourcePath: restored,
        storage: sb2.storage,
        compression: { algorithm: 'zstd' as const, level: 3 },
        encryption: { keyId: 'fixture', key: keys.get('fixture')! },
        tmpDir: sb2.tmpDir,
        incremental: { minSizeBytes: 0 },
      };
      const first = await createBackup(opts);
      expect(first.manifest).toMatchObject({ formatVersion: 3, kind: 'full' });
      expect(first.incrementalReason).toMatch(/formatVersion 2/);
      const next = await createBackup(opts);
      expect(next.manifest).toMatchObject({ formatVersion: 3, kind: 'delta', parentId: first.manifest.backupId });
      expect(next.manifest.delta!.changedPages).toBe(0);
    } finally {
      await sb2.cleanup();
    }
  });
});
