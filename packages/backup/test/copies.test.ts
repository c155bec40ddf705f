import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStorageDriver, type ObjectInfo, type PutOptions, type StorageDriver } from '@mfb/storage';
import { copyBackup, createBackup, deleteCopy, manifestKeyFor, pinKeyFor, type Manifest } from '../src/index.js';

let dir: string;
let src: LocalStorageDriver;
let manifest: Manifest;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-copies-'));
  const db = new Database(join(dir, 'a.db'));
  db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a'), ('b');");
  db.close();
  src = new LocalStorageDriver(join(dir, 'src'));
  manifest = (await createBackup({ databaseId: 'a', sourcePath: join(dir, 'a.db'), storage: src, compression: { algorithm: 'gzip', level: 1 }, tmpDir: join(dir, 'tmp') })).manifest;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A real local store that also has storage classes (standard first), and records each put's order and class. */
function withClasses(inner: StorageDriver): StorageDriver & { puts: Array<{ key: string; storageClass: string }>; deletes: string[] } {
  const puts: Array<{ key: string; storageClass: string }> = [];
  const deletes: string[] = [];
  return {
    url: inner.url,
    capabilities: { storageClasses: ['STANDARD', 'COLD'] },
    puts,
    deletes,
    async put(key: string, body: Readable, opts: PutOptions = {}): Promise<ObjectInfo> {
      const info = await inner.put(key, body, opts);
      const storageClass = opts.storageClass ?? 'STANDARD';
      puts.push({ key, storageClass });
      return { ...info, storageClass };
    },
    get: (k, o) => inner.get(k, o),
    head: (k) => inner.head(k),
    list: (p, o) => inner.list(p, o),
    async delete(k) {
      deletes.push(k);
      await inner.delete(k);
    },
    cleanupIncomplete: (p, o) => inner.cleanupIncomplete(p, o),
  };
}

describe('copyBackup / deleteCopy', () => {
  it('writes artifact, pin marker, manifest (last); a cold artifact keeps its manifest and marker in the standard class', async () => {
    const dst = withClasses(new LocalStorageDriver(join(dir, 'dst')));
    const res = await copyBackup(src, dst, manifest, { pinned: true, storageClass: 'COLD' });
    const k = manifest.artifactKey;
    expect(dst.puts).toEqual([
      { key: k, storageClass: 'COLD' },
      { key: pinKeyFor(k), storageClass: 'STANDARD' },
      { key: manifestKeyFor(k), storageClass: 'STANDARD' },
    ]);
    expect(res).toEqual({ artifactKey: k, sizeBytes: manifest.artifact.sizeBytes, storageClass: 'COLD', reused: false });
    // Again: the complete artifact is kept, the manifest rewritten (idempotent).
    expect((await copyBackup(src, dst, manifest)).reused).toBe(true);
  });

  it('deletes manifest, artifact, pin marker in that order, then runs the catalog mark', async () => {
    const dst = withClasses(new LocalStorageDriver(join(dir, 'dst')));
    await copyBackup(src, dst, manifest, { pinned: true });
    const order: string[] = [];
    await deleteCopy(dst, manifest.artifactKey, async () => {
      order.push(...dst.deletes, 'catalog');
    });
    const k = manifest.artifactKey;
    expect(order).toEqual([manifestKeyFor(k), k, pinKeyFor(k), 'catalog']);
    for (const key of [k, manifestKeyFor(k), pinKeyFor(k)]) expect(await dst.head(key)).toBeNull();
  });
});
