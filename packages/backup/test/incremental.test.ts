import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStorage } from '@mfb/storage';
import { copyBackup, createBackup, deleteCopy, restoreBackup, verifyBackup, type BackupOptions, type Manifest } from '../src/index.js';
import { loadPageHashes, PageStreamDigest, sealPageMap, StoredPageMap } from '../src/pagemap.js';
import { resolveChain } from '../src/chain.js';
import { KEY_A, ls, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const keys = new Map([['k', KEY_A]]);

function makeDb(path: string, journal: 'wal' | 'delete' = 'delete'): void {
  const db = new Database(path);
  db.pragma(`journal_mode = ${journal}`);
  db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, body TEXT NOT NULL);
           CREATE INDEX t_grp ON t(grp);`);
  const ins = db.prepare('INSERT INTO t (grp, body) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) ins.run(i % 17, `row ${i} ${'x'.repeat(i % 90)}`);
  })();
  db.close();
}

/** Row contents, as a hash (order by primary key). */
function rowsHash(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const h = createHash('sha256');
    for (const r of db.prepare('SELECT id, grp, body FROM t ORDER BY id').iterate() as Iterable<{ id: number; grp: number; body: string }>)
      h.update(`${r.id}|${r.grp}|${r.body}\n`);
    return h.digest('hex');
  } finally {
    db.close();
  }
}

async function fileSha(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** The formatVersion 3 snapshot digest of an image file (docs/backup-format.md 7.3). */
async function fileDigest(path: string, pageSize = 4096): Promise<string> {
  return new PageStreamDigest(pageSize).update(await readFile(path)).digest('hex');
}

function backupOpts(src: string, extra: Partial<BackupOptions> = {}): BackupOptions {
  return {
    databaseId: 'inc',
    sourcePath: src,
    storage: sb.storage,
    compression: { algorithm: 'zstd', level: 1 },
    encryption: { keyId: 'k', key: KEY_A, chunkSize: 4096 },
    tmpDir: sb.tmpDir,
    incremental: { minSizeBytes: 0, fullEvery: 100, maxChainRatio: 100 },
    ...extra,
  };
}

type Op =
  | { op: 'insert'; n: number; len: number }
  | { op: 'update'; every: number; salt: number }
  | { op: 'delete'; from: number; count: number }
  | { op: 'vacuum' }
  | { op: 'grow'; kib: number }
  | { op: 'shrink' };

function apply(path: string, o: Op): void {
  const db = new Database(path);
  try {
    if (o.op === 'insert') {
      const ins = db.prepare('INSERT INTO t (grp, body) VALUES (?, ?)');
      db.transaction(() => {
        for (let i = 0; i < o.n; i++) ins.run(i % 17, `new ${i} ${'y'.repeat(o.len)}`);
      })();
    } else if (o.op === 'update') db.prepare('UPDATE t SET body = body || ? WHERE id % ? = 0').run(`u${o.salt}`, o.every);
    else if (o.op === 'delete') db.prepare('DELETE FROM t WHERE id >= ? AND id < ?').run(o.from, o.from + o.count);
    else if (o.op === 'vacuum') db.exec('VACUUM');
    else if (o.op === 'grow') db.prepare('INSERT INTO t (grp, body) VALUES (99, ?)').run('g'.repeat(o.kib * 1024));
    else {
      db.exec('DELETE FROM t WHERE grp = 99 OR id % 3 = 0');
      db.exec('VACUUM');
    }
  } finally {
    db.close();
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), n: fc.integer({ min: 1, max: 300 }), len: fc.integer({ min: 0, max: 200 }) }),
  fc.record({ op: fc.constant('update' as const), every: fc.integer({ min: 1, max: 50 }), salt: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ op: fc.constant('delete' as const), from: fc.integer({ min: 1, max: 3000 }), count: fc.integer({ min: 1, max: 800 }) }),
  fc.constant({ op: 'vacuum' as const }),
  fc.record({ op: fc.constant('grow' as const), kib: fc.integer({ min: 1, max: 300 }) }),
  fc.constant({ op: 'shrink' as const }),
);

describe('incremental backups (formatVersion 3)', () => {
  it('full, then deltas that store only changed pages; every backup of the chain restores byte-identical', async () => {
    const src = join(sb.dir, 'live.db');
    makeDb(src);
    const first = await createBackup(backupOpts(src));
    expect(first.manifest).toMatchObject({ formatVersion: 3, kind: 'full', parentId: null, chainLength: 0 });
    expect(first.manifest.snapshot.method).toBe('backup-api');
    expect(first.manifest.artifactKey).toMatch(/\.sqlite\.zst\.enc$/);
    apply(src, { op: 'insert', n: 5, len: 10 });
    const second = await createBackup(backupOpts(src));
    expect(second.manifest).toMatchObject({ formatVersion: 3, kind: 'delta', parentId: first.manifest.backupId, chainLength: 1 });
    expect(second.manifest.artifactKey).toMatch(/\.delta\.zst\.enc$/);
    expect(second.manifest.delta!.changedPages).toBeGreaterThan(0);
    expect(second.manifest.delta!.changedPages).toBeLessThan(second.manifest.snapshot.sqlite.pageCount / 4);
    expect(second.manifest.artifact.sizeBytes).toBeLessThan(first.manifest.artifact.sizeBytes / 4);
    const target = join(sb.dir, 'restored.db');
    const r = await restoreBackup({ storage: sb.storage, artifactKey: second.manifest.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
    expect(r.integrity).toBe('ok');
    expect(await fileDigest(target)).toBe(second.manifest.snapshot.sha256);
    expect(rowsHash(target)).toBe(rowsHash(src));
    // Page maps are stored beside each backup, encrypted.
    const stored = await ls(join(sb.storageDir, 'inc'));
    expect(stored.filter((f) => f.endsWith('.pagemap'))).toHaveLength(2);
    const pm = await readFile(join(sb.storageDir, second.manifest.pageMap!.key));
    expect(pm.subarray(0, 6).toString('latin1')).toBe('MFBENC');
    expect(await ls(sb.tmpDir)).toEqual([]);
  });

  it('small databases keep formatVersion 1; --full (forceFull) and the policy start new chains', async () => {
    const src = join(sb.dir, 'live.db');
    makeDb(src);
    const v1 = await createBackup(backupOpts(src, { incremental: {} }));
    expect(v1.manifest.formatVersion).toBe(1);
    expect(v1.manifest.kind).toBeUndefined();
    const base = await createBackup(backupOpts(src, { incremental: { minSizeBytes: 0, fullEvery: 2 } }));
    expect(base.manifest.kind).toBe('full');
    expect(base.incrementalReason).toMatch(/formatVersion 1/);
    const kinds: string[] = [];
    for (let i = 0; i < 4; i++) {
      apply(src, { op: 'insert', n: 3, len: 5 });
      kinds.push((await createBackup(backupOpts(src, { incremental: { minSizeBytes: 0, fullEvery: 2 } }))).manifest.kind!);
    }
    expect(kinds).toEqual(['delta', 'delta', 'full', 'delta']);
    const forced = await createBackup(backupOpts(src, { incremental: { minSizeBytes: 0, forceFull: true } }));
    expect(forced.manifest.kind).toBe('full');
    // maxChainRatio: deltas may store at most this fraction of the full.
    apply(src, { op: 'update', every: 1, salt: 3 });
    const big = await createBackup(backupOpts(src, { incremental: { minSizeBytes: 0, maxChainRatio: 0.05 } }));
    expect(big.manifest.kind).toBe('delta');
    apply(src, { op: 'insert', n: 1, len: 1 });
    const after = await createBackup(backupOpts(src, { incremental: { minSizeBytes: 0, maxChainRatio: 0.05 } }));
    expect(after.manifest.kind).toBe('full');
    expect(after.incrementalReason).toMatch(/more than 0.05/);
  }, 180_000);

  it('property: random writes (insert/update/delete/VACUUM/grow/shrink) with a backup after each; every backup restores the database of its instant', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 5 }), fc.boolean(), async (ops, encrypted) => {
        const dir = join(sb.dir, `run-${run++}`);
        const src = join(dir, 'live.db');
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        makeDb(src);
        const databaseId = `prop${run}`;
        const expected: { m: Manifest; sha: string; digest: string; rows: string }[] = [];
        const record = async (): Promise<void> => {
          const opts = backupOpts(src, { databaseId, compression: { algorithm: 'gzip', level: 1 } });
          if (!encrypted) delete opts.encryption;
          const { manifest } = await createBackup(opts);
          // The page-identical snapshot of the database at this instant, taken independently
          // (sqlite3_serialize: every page as of one read transaction) with page 1's header made
          // self-contained as docs/backup-format.md 6.1 specifies (bytes 18-19 = 1, offset 28 = the
          // page count, offset 92 = the change counter at 24).
          const live = new Database(src, { readonly: true });
          const ref = live.serialize();
          live.close();
          const ps = manifest.snapshot.sqlite.pageSize;
          ref[18] = 1;
          ref[19] = 1;
          ref.writeUInt32BE(ref.length / ps, 28);
          ref.copy(ref, 92, 24, 28);
          expected.push({ m: manifest, sha: createHash('sha256').update(ref).digest('hex'), digest: new PageStreamDigest(ps).update(ref).digest('hex'), rows: rowsHash(src) });
        };
        await record();
        for (const o of ops) {
          apply(src, o);
          await record();
        }
        expect(expected.map((e) => e.m.kind)).toEqual(['full', ...ops.map(() => 'delta')]);
        for (const [i, e] of expected.entries()) {
          expect(e.m.chainLength).toBe(i);
          expect(e.m.snapshot.sha256).toBe(e.digest);
          const target = join(dir, `restored-${i}.db`);
          await restoreBackup({ storage: sb.storage, artifactKey: e.m.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
          expect(await fileSha(target)).toBe(e.sha);
          expect(rowsHash(target)).toBe(e.rows);
        }
        await rm(dir, { recursive: true, force: true });
      }),
      { numRuns: 4, seed: 12 },
    );
    expect(await ls(sb.tmpDir)).toEqual([]);
  }, 300_000);

  it('a chain copied to another target (page maps included) restores from there; deleteCopy removes the page map', async () => {
    const src = join(sb.dir, 'live.db');
    makeDb(src);
    const ms: Manifest[] = [];
    for (let i = 0; i < 3; i++) {
      if (i) apply(src, { op: 'update', every: 5, salt: i });
      ms.push((await createBackup(backupOpts(src))).manifest);
    }
    const other = openStorage('file://' + join(sb.dir, 'second'));
    for (const m of ms) await copyBackup(sb.storage, other, m);
    const target = join(sb.dir, 'from-second.db');
    await restoreBackup({ storage: other, artifactKey: ms[2]!.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
    expect(await fileDigest(target)).toBe(ms[2]!.snapshot.sha256);
    expect(rowsHash(target)).toBe(rowsHash(src));
    await deleteCopy(other, ms[2]!.artifactKey);
    expect(await other.head(ms[2]!.pageMap!.key)).toBeNull();
    expect(await other.head(ms[1]!.pageMap!.key)).not.toBeNull();
  });

  it('a corrupt source fails a formatVersion 2 backup with BACKUP_SOURCE_CORRUPT (damaged b-tree pages met by the row counts in the snapshot transaction), nothing stored', async () => {
    const src = join(sb.dir, 'live.db');
    makeDb(src);
    await createBackup(backupOpts(src));
    const before = await ls(join(sb.storageDir, 'inc'));
    const fh = await open(src, 'r+');
    await fh.write(Buffer.alloc(4096 * 8, 0x5a), 0, 4096 * 8, 4096 * 10);
    await fh.close();
    const err = await createBackup(backupOpts(src)).then(
      () => null,
      (e: unknown) => e as { code: string },
    );
    expect(err?.code).toBe('BACKUP_SOURCE_CORRUPT');
    expect(await ls(join(sb.storageDir, 'inc'))).toEqual(before);
    expect(await ls(sb.tmpDir)).toEqual([]);
  });

  it('verify checks every link of the chain', async () => {
    const src = join(sb.dir, 'live.db');
    makeDb(src);
    await createBackup(backupOpts(src));
    apply(src, { op: 'insert', n: 50, len: 50 });
    await createBackup(backupOpts(src));
    apply(src, { op: 'update', every: 7, salt: 1 });
    const last = await createBackup(backupOpts(src));
    const v = await verifyBackup({ storage: sb.storage, artifactKey: last.manifest.artifactKey, keys, tmpDir: sb.tmpDir });
    expect(v.integrity).toBe('ok');
    expect(v.tables.t).toBeGreaterThan(2000);
  });

  describe('broken chains are detected, never restored', () => {
    /** A full + 3 deltas of `inc`, and a full of another database `other`. */
    /** Built once: a full + 3 deltas of `inc`, and a full of another database `other`; each test gets a copy. */
    let template: { sb: Sandbox; ms: Manifest[]; other: Manifest } | null = null;
    afterAll(async () => {
      await template?.sb.cleanup();
    });
    async function chain(): Promise<{ src: string; ms: Manifest[]; other: Manifest }> {
      if (!template) {
        const t = await sandbox();
        const tsrc = join(t.dir, 'live.db');
        makeDb(tsrc);
        const ms: Manifest[] = [];
        for (let i = 0; i < 4; i++) {
          if (i) apply(tsrc, { op: 'insert', n: 40 * i, len: 30 });
          ms.push((await createBackup({ ...backupOpts(tsrc), storage: t.storage, tmpDir: t.tmpDir })).manifest);
        }
        const osrc = join(t.dir, 'other.db');
        makeDb(osrc);
        const other = (await createBackup({ ...backupOpts(osrc, { databaseId: 'other' }), storage: t.storage, tmpDir: t.tmpDir })).manifest;
        template = { sb: t, ms, other };
      }
      await rm(sb.storageDir, { recursive: true, force: true });
      await cp(template.sb.storageDir, sb.storageDir, { recursive: true });
      const src = join(sb.dir, 'live.db');
      await cp(join(template.sb.dir, 'live.db'), src);
      return { src, ms: template.ms, other: template.other };
    }
    const restoreCode = async (m: Manifest): Promise<string> => {
      const target = join(sb.dir, `t-${Math.random().toString(16).slice(2)}.db`);
      try {
        await restoreBackup({ storage: sb.storage, artifactKey: m.artifactKey, keys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
        return 'restored';
      } catch (err) {
        expect(await ls(sb.dir)).not.toContain(target.split('/').pop());
        expect(await ls(sb.tmpDir)).toEqual([]);
        return (err as { code: string }).code;
      }
    };
    const file = (key: string): string => join(sb.storageDir, key);
    const editManifest = async (m: Manifest, edit: (j: Manifest) => void): Promise<void> => {
      const j = JSON.parse(await readFile(file(m.artifactKey + '.manifest.json'), 'utf8')) as Manifest;
      edit(j);
      await writeFile(file(m.artifactKey + '.manifest.json'), JSON.stringify(j));
    };

    it('tampered links: a flipped byte in a middle delta, in the base, or in the final page map', async () => {
      const { ms } = await chain();
      const flip = async (key: string): Promise<void> => {
        const b = await readFile(file(key));
        b[Math.floor(b.length / 2)]! ^= 0x40;
        await writeFile(file(key), b);
      };
      await flip(ms[2]!.artifactKey);
      expect(await restoreCode(ms[3]!)).toMatch(/^BACKUP_(AUTH_FAILED|CHECKSUM_MISMATCH)$/);
      expect(await restoreCode(ms[1]!)).toBe('restored');
      await flip(ms[3]!.pageMap!.key);
      expect(await restoreCode(ms[3]!)).toBe('BACKUP_CHAIN_BROKEN');
      await flip(ms[0]!.artifactKey);
      expect(await restoreCode(ms[1]!)).toMatch(/^BACKUP_(AUTH_FAILED|CHECKSUM_MISMATCH)$/);
    });

    it('a page map rewritten consistently (its checksums in the manifest too) fails the page check of the rebuilt image, even though integrity_check passes alongside', async () => {
      const { ms } = await chain();
      const last = ms[3]!;
      const real = await loadPageHashes(sb.storage, await resolveChain(sb.storage, last), keys);
      // The last delta's map rewritten to list every page with its true hashes, except page 2's SHA-256.
      const shas = Buffer.from(real.shas);
      shas[32]! ^= 0xff;
      const pgnos = Buffer.alloc(real.pageCount * 4);
      for (let i = 0; i < real.pageCount; i++) pgnos.writeUInt32BE(i + 1, i * 4);
      const forged = new StoredPageMap('sparse', real.pageSize, real.pageCount, real.seed, real.pageCount, pgnos, Buffer.from(real.fps), shas);
      const sealed = Buffer.concat(sealPageMap(forged, { keyId: 'k', key: KEY_A, chunkSize: 4096 }));
      await writeFile(file(last.pageMap!.key), sealed);
      await editManifest(last, (j) => {
        j.pageMap = { ...j.pageMap!, sizeBytes: sealed.length, sha256: createHash('sha256').update(sealed).digest('hex') };
      });
      expect(await restoreCode(last)).toBe('BACKUP_CHAIN_BROKEN');
      await expect(verifyBackup({ storage: sb.storage, artifactKey: last.artifactKey, keys, tmpDir: sb.tmpDir })).rejects.toMatchObject({
        code: 'BACKUP_CHAIN_BROKEN',
        message: expect.stringContaining('page 2 of the restored image differs from the page map'),
      });
      expect(await restoreCode(ms[2]!)).toBe('restored');
    });

    it('missing links: a middle delta manifest or artifact, the base artifact', async () => {
      const { ms } = await chain();
      const { unlink } = await import('node:fs/promises');
      await unlink(file(ms[0]!.artifactKey));
      expect(await restoreCode(ms[1]!)).toBe('BACKUP_CHAIN_BROKEN');
      const { ms: ms2 } = await (async () => {
        await sb.cleanup();
        sb = await sandbox();
        return chain();
      })();
      await unlink(file(ms2[1]!.artifactKey));
      expect(await restoreCode(ms2[3]!)).toBe('BACKUP_CHAIN_BROKEN');
      await unlink(file(ms2[2]!.artifactKey + '.manifest.json'));
      expect(await restoreCode(ms2[3]!)).toBe('BACKUP_CHAIN_BROKEN');
      // The next backup cannot build on the broken chain: a full, never a broken delta.
      const next = await createBackup(backupOpts(join(sb.dir, 'live.db')));
      expect(next.manifest.kind).toBe('full');
      expect(next.incrementalReason).toMatch(/chain cannot be used/);
    });

    it('reordered links: a delta re-pointed past its parent, with its manifest made consistent', async () => {
      const { ms } = await chain();
      const [a, b] = [ms[1]!, ms[3]!];
      await editManifest(b, (j) => {
        j.parentId = a.backupId;
        j.parent = { backupId: a.backupId, artifactKey: a.artifactKey, snapshotSha256: a.snapshot.sha256, pageCount: a.snapshot.sqlite.pageCount };
        j.chainLength = 2;
      });
      // The manifests agree, but the delta payload is bound (authenticated) to its real parent.
      expect(await restoreCode(b)).toBe('BACKUP_CHAIN_BROKEN');
      await editManifest(ms[2]!, (j) => {
        j.chainLength = 5;
      });
      expect(await restoreCode(ms[2]!)).toBe('BACKUP_CHAIN_BROKEN');
    });

    it('foreign links: a parent of another database, a base artifact swapped for another database\'s', async () => {
      const { ms, other } = await chain();
      await editManifest(ms[1]!, (j) => {
        j.parent = { ...j.parent!, artifactKey: other.artifactKey };
      });
      expect(await restoreCode(ms[1]!)).toBe('BACKUP_CHAIN_BROKEN');
      await copyFile(file(other.artifactKey), file(ms[0]!.artifactKey));
      expect(await restoreCode(ms[2]!)).toMatch(/^BACKUP_(CHAIN_BROKEN|MANIFEST_MISMATCH|CHECKSUM_MISMATCH)$/);
    });

    it('an unverifiable parent (page map gone or damaged) makes the next backup a full', async () => {
      const { src, ms } = await chain();
      const { unlink } = await import('node:fs/promises');
      await unlink(file(ms[3]!.pageMap!.key));
      const next = await createBackup(backupOpts(src));
      expect(next.manifest.kind).toBe('full');
      await writeFile(file(next.manifest.pageMap!.key), Buffer.alloc(100));
      const again = await createBackup(backupOpts(src));
      expect(again.manifest.kind).toBe('full');
      apply(src, { op: 'insert', n: 1, len: 1 });
      const delta = await createBackup(backupOpts(src));
      expect(delta.manifest).toMatchObject({ kind: 'delta', parentId: again.manifest.backupId });
    });
  });
});
