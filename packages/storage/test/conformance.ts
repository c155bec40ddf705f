/**
 * The storage conformance suite: every StorageDriver (file, s3, gs, azblob) runs these
 * same tests, so callers can rely on the contract in `src/driver.ts` whatever the backend.
 *
 * Usage (in a `*.test.ts`):
 *
 *   runStorageConformance('s3 (minio)', async () => {
 *     const driver = openStorage(`s3://bucket/${randomUUID()}`);
 *     return { driver, cleanup: async () => { ... } };
 *   });
 *
 * `makeDriver` is called once per test and must return an EMPTY store (a fresh prefix or
 * directory); `cleanup` removes it. `open(options)` opens the same store with extra driver
 * options (the bad-option test); `multipartBytes` is a body size that takes the driver's
 * multi-request path (S3: above `partSize`), so aborts and checksum failures are tested where
 * an upload is really half-done; `storageClass` is a class the server keeps and reports
 * (omit it where the server has none: the round-trip test is skipped).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../src/index.js';

export interface ConformanceFixture {
  driver: StorageDriver;
  cleanup: () => Promise<void>;
  /** Open the same store with these driver options (throws what opening throws). */
  open: (options: Record<string, unknown>) => StorageDriver;
  /** A body size that makes `put` send more than one request (default 256 KiB). */
  multipartBytes?: number;
  /** A non-default storage class the server stores and reports; absent: test skipped. */
  storageClass?: string;
  /**
   * Create tiny objects (content = key) fast, for the listing tests; default: `driver.put`
   * 32 at a time. The local fixture writes files without the per-put fsyncs, which would
   * otherwise make 10,000 keys take most of the suite's time.
   */
  seed?: (keys: string[]) => Promise<void>;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

function body(data: Buffer | string, chunkSize = 64 * 1024): Readable {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  return Readable.from(chunks);
}

/** A body that yields `first`, then waits until `release` is called (or forever). */
function stalledBody(first: Buffer): { stream: Readable; waiting: Promise<void> } {
  let signalWaiting!: () => void;
  const waiting = new Promise<void>((r) => (signalWaiting = r));
  let sent = false;
  const stream = new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(first);
        signalWaiting();
      }
      // Afterwards: never push again; the writer is "stuck" mid-upload.
    },
  });
  return { stream, waiting };
}

async function listAll(driver: StorageDriver, prefix: string, limit?: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await driver.list(prefix, { ...(cursor ? { cursor } : {}), ...(limit ? { limit } : {}) });
    keys.push(...page.items.map((i) => i.key));
    if (!page.cursor) return keys;
    cursor = page.cursor;
  }
  throw new Error('list did not terminate');
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

/**
 * Known deviations of an emulator from the real service (each value says why). The tests that
 * need the missing behaviour are skipped for that server only, with a warning; every limit
 * must be covered by another server that runs the same suite in full (s3rver -> radosgw).
 */
export interface ServerLimits {
  /** Listing is not in key order (so pages cannot resume after a key). */
  unorderedListing?: string;
  /** Two concurrent puts of one key can interleave. */
  nonAtomicReplace?: string;
  /** Incomplete (multipart) uploads cannot be listed, so `cleanupIncomplete` cannot work. */
  noUploadListing?: string;
}

export function runStorageConformance(name: string, makeDriver: () => Promise<ConformanceFixture>, limits: ServerLimits = {}): void {
  for (const [what, why] of Object.entries(limits)) {
    console.warn(`\n!!! conformance "${name}": skipping the tests that need ${what}: ${why}\n`);
  }
  const whenOrdered = it.skipIf(limits.unorderedListing !== undefined);
  const expectNothingIncomplete = async (s: StorageDriver): Promise<void> => {
    if (limits.noUploadListing === undefined) expect(await s.cleanupIncomplete('')).toBe(0);
  };
  describe(`StorageDriver conformance: ${name}`, () => {
    let fx: ConformanceFixture;
    let s: StorageDriver;

    beforeEach(async () => {
      fx = await makeDriver();
      s = fx.driver;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('exposes a url without credentials', () => {
      expect(typeof s.url).toBe('string');
      expect(s.url).not.toMatch(/\/\/[^/]*:[^/]*@/);
    });

    it('puts and gets binary data byte for byte', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const info = await s.put('db1/a.bin', body(data));
      expect(info).toMatchObject({ key: 'db1/a.bin', size: data.length });
      expect(info.lastModified).toBeInstanceOf(Date);
      const got = await readAll(await s.get('db1/a.bin'));
      expect(got.equals(data)).toBe(true);
    });

    it('stores an empty object', async () => {
      const info = await s.put('empty', Readable.from([]));
      expect(info.size).toBe(0);
      expect((await readAll(await s.get('empty'))).length).toBe(0);
      expect(await s.head('empty')).toMatchObject({ key: 'empty', size: 0 });
    });

    it('replaces an existing object as a whole', async () => {
      await s.put('k', body('first version, longer than the second'));
      await s.put('k', body('second'));
      expect((await readAll(await s.get('k'))).toString()).toBe('second');
      expect((await s.head('k'))?.size).toBe(6);
      expect(await listAll(s, '')).toEqual(['k']);
    });

    it.skipIf(limits.nonAtomicReplace !== undefined)('concurrent puts of one key leave exactly one complete version', async () => {
      const a = Buffer.alloc(512 * 1024, 'a');
      const b = Buffer.alloc(256 * 1024, 'b');
      await Promise.all([s.put('same', body(a, 8192)), s.put('same', body(b, 8192))]);
      const got = await readAll(await s.get('same'));
      expect(got.equals(a) || got.equals(b)).toBe(true);
      expect(await listAll(s, '')).toEqual(['same']);
    });

    it('reports progress up to the full size', async () => {
      const data = randomBytes(300 * 1024);
      const seen: number[] = [];
      await s.put('p', body(data, 10 * 1024), { onProgress: (n) => seen.push(n) });
      expect(seen.length).toBeGreaterThan(0);
      expect(seen[seen.length - 1]).toBe(data.length);
      for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    });

    it('head returns metadata, or null when missing', async () => {
      await s.put('h/x', body('hello'));
      const info = await s.head('h/x');
      expect(info).toMatchObject({ key: 'h/x', size: 5 });
      expect(Math.abs(info!.lastModified.getTime() - Date.now())).toBeLessThan(24 * 3600 * 1000);
      expect(await s.head('h/missing')).toBeNull();
      expect(await s.head('h')).toBeNull();
      expect(await s.head('nope/deeper/x')).toBeNull();
    });

    it('get of a missing key rejects with STORAGE_NOT_FOUND', async () => {
      await expectCode(s.get('missing'), 'STORAGE_NOT_FOUND');
      await expectCode(s.get('no/such/dir/key'), 'STORAGE_NOT_FOUND');
      await s.put('dir/child', body('x'));
      await expectCode(s.get('dir'), 'STORAGE_NOT_FOUND');
    });

    whenOrdered('lists by prefix, sorted by key, recursively', async () => {
      const keys = ['db10/b', 'db1/z', 'db1/a', 'db1/sub/m', 'db2/x', 'db1-x/y', 'top'];
      for (const k of keys) await s.put(k, body(k));
      expect(await listAll(s, '')).toEqual(['db1-x/y', 'db1/a', 'db1/sub/m', 'db1/z', 'db10/b', 'db2/x', 'top']);
      expect(await listAll(s, 'db1/')).toEqual(['db1/a', 'db1/sub/m', 'db1/z']);
      expect(await listAll(s, 'db1')).toEqual(['db1-x/y', 'db1/a', 'db1/sub/m', 'db1/z', 'db10/b']);
      expect(await listAll(s, 'db1/s')).toEqual(['db1/sub/m']);
      expect(await listAll(s, 'nothing/')).toEqual([]);
      const page = await s.list('db2/');
      expect(page.items).toHaveLength(1);
      expect(page.items[0]).toMatchObject({ key: 'db2/x', size: 5 });
      expect(page.cursor).toBeUndefined();
    });

    whenOrdered('paginates with a cursor without duplicates or gaps', async () => {
      const keys: string[] = [];
      for (let i = 0; i < 23; i++) keys.push(`pg/${String(i).padStart(3, '0')}.manifest.json`);
      for (let i = 0; i < 4; i++) keys.push(`pg/nested/${i}`);
      for (const k of keys) await s.put(k, body('x'));
      const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const limit of [1, 5, 7, 27, 100]) {
        const got = await listAll(s, 'pg/', limit);
        expect(got).toEqual(expected);
      }
      const first = await s.list('pg/', { limit: 5 });
      expect(first.items).toHaveLength(5);
      expect(typeof first.cursor).toBe('string');
    });

    whenOrdered('a page cursor stays valid when earlier keys are deleted', async () => {
      for (const k of ['c/1', 'c/2', 'c/3', 'c/4']) await s.put(k, body('x'));
      const p1 = await s.list('c/', { limit: 2 });
      expect(p1.items.map((i) => i.key)).toEqual(['c/1', 'c/2']);
      await s.delete('c/1');
      await s.delete('c/2');
      const p2 = await s.list('c/', { limit: 2, cursor: p1.cursor! });
      expect(p2.items.map((i) => i.key)).toEqual(['c/3', 'c/4']);
    });

    it('delete removes the object and is idempotent', async () => {
      await s.put('d/x', body('x'));
      await s.put('d/y', body('y'));
      await s.delete('d/x');
      await s.delete('d/x');
      await s.delete('never/existed');
      expect(await s.head('d/x')).toBeNull();
      await expectCode(s.get('d/x'), 'STORAGE_NOT_FOUND');
      expect(await listAll(s, 'd/')).toEqual(['d/y']);
    });

    it('rejects invalid keys with STORAGE_INVALID_KEY', async () => {
      const bad = ['', '../x', 'a/../../x', 'a/..', './a', '/abs', 'a\0b', 'a\\b', 'a//b', 'a/', 'C:/x'];
      for (const k of bad) {
        await expectCode(s.put(k, body('x')), 'STORAGE_INVALID_KEY');
        await expectCode(s.get(k), 'STORAGE_INVALID_KEY');
        await expectCode(s.head(k), 'STORAGE_INVALID_KEY');
        await expectCode(s.delete(k), 'STORAGE_INVALID_KEY');
      }
      await expectCode(s.list('../'), 'STORAGE_INVALID_KEY');
      await expectCode(s.list('/abs'), 'STORAGE_INVALID_KEY');
      await expectCode(s.list('a\0'), 'STORAGE_INVALID_KEY');
      expect(await listAll(s, '')).toEqual([]);
    });

    it('accepts keys with unicode, spaces and dots', async () => {
      const k = 'db/ünï cødé..name.sqlite.gz.enc';
      await s.put(k, body('u'));
      expect((await readAll(await s.get(k))).toString()).toBe('u');
      expect(await listAll(s, 'db/')).toEqual([k]);
    });

    it('a put whose body fails leaves nothing behind and reports the body error', async () => {
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(Object.assign(new Error('source exploded'), { code: 'TEST_SOURCE' }));
        },
      });
      await expect(s.put('f/x', failing)).rejects.toMatchObject({ message: expect.stringContaining('source exploded') });
      expect(await s.head('f/x')).toBeNull();
      expect(await listAll(s, '')).toEqual([]);
      await expectCode(s.get('f/x'), 'STORAGE_NOT_FOUND');
    });

    it('a failed put does not damage the previous version', async () => {
      await s.put('keep', body('old'));
      const failing = new Readable({
        read() {
          this.destroy(new Error('boom'));
        },
      });
      await expect(s.put('keep', failing)).rejects.toThrow();
      expect((await readAll(await s.get('keep'))).toString()).toBe('old');
    });

    it('an aborted put rejects with STORAGE_ABORTED and leaves nothing behind', async () => {
      const ac = new AbortController();
      const { stream, waiting } = stalledBody(randomBytes(128 * 1024));
      const p = s.put('ab/x', stream, { signal: ac.signal });
      await waiting;
      ac.abort();
      await expectCode(p, 'STORAGE_ABORTED');
      expect(await s.head('ab/x')).toBeNull();
      expect(await listAll(s, '')).toEqual([]);
      await expectNothingIncomplete(s);
    });

    it('a put with an already aborted signal writes nothing', async () => {
      const ac = new AbortController();
      ac.abort();
      await expectCode(s.put('ab/y', body('x'), { signal: ac.signal }), 'STORAGE_ABORTED');
      expect(await s.head('ab/y')).toBeNull();
    });

    it('get can be aborted through its signal', async () => {
      await s.put('g/big', body(randomBytes(4 * 1024 * 1024)));
      const ac = new AbortController();
      const r = await s.get('g/big', { signal: ac.signal });
      const done = readAll(r);
      ac.abort();
      await expect(done).rejects.toThrow();
    });

    it.skipIf(limits.noUploadListing !== undefined)('cleanupIncomplete on a clean store removes nothing', async () => {
      await s.put('cl/x', body('x'));
      await expectNothingIncomplete(s);
      expect(await s.cleanupIncomplete('cl/', 1000)).toBe(0);
      expect(await listAll(s, '')).toEqual(['cl/x']);
    });

    it('a put with the right sha256 succeeds; a wrong one is STORAGE_CHECKSUM_MISMATCH and stores nothing', async () => {
      const data = randomBytes((fx.multipartBytes ?? 256 * 1024) + 1234);
      await s.put('sum/old', body('previous version'));
      const info = await s.put('sum/ok', body(data), { sha256: sha256(data) });
      expect(info.size).toBe(data.length);
      expect(sha256(await readAll(await s.get('sum/ok')))).toBe(sha256(data));

      const wrong = sha256(Buffer.from('something else'));
      const err = await s.put('sum/bad', body(data), { sha256: wrong }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STORAGE_CHECKSUM_MISMATCH', permanent: false });
      expect(String((err as Error).message)).toContain(wrong);
      expect(await s.head('sum/bad')).toBeNull();
      await expectCode(s.put('sum/old', body(data), { sha256: wrong }), 'STORAGE_CHECKSUM_MISMATCH');
      expect((await readAll(await s.get('sum/old'))).toString()).toBe('previous version');
      expect((await listAll(s, 'sum/')).sort()).toEqual(['sum/ok', 'sum/old']);
      await expectNothingIncomplete(s);
    });

    it('an upload aborted mid-way leaves no object and no incomplete upload', async () => {
      const ac = new AbortController();
      const { stream } = stalledBody(randomBytes((fx.multipartBytes ?? 256 * 1024) + 1));
      let started!: () => void;
      const sent = new Promise<void>((r) => (started = r));
      // The first progress report means bytes reached the store (S3: a part was uploaded).
      const p = s.put('mid/x', stream, { signal: ac.signal, onProgress: (n) => n > 0 && started() });
      await sent;
      ac.abort();
      await expectCode(p, 'STORAGE_ABORTED');
      expect(await s.head('mid/x')).toBeNull();
      expect(await listAll(s, '')).toEqual([]);
      await expectNothingIncomplete(s);
    });

    whenOrdered('lists 10,000 keys in pages, in order, without duplicates', async () => {
      const n = 10_000;
      const keys = Array.from({ length: n }, (_, i) => `big/${String(i % 100).padStart(2, '0')}/${String(i).padStart(5, '0')}`);
      if (fx.seed) await fx.seed(keys);
      else {
        let next = 0;
        await Promise.all(
          Array.from({ length: 32 }, async () => {
            while (next < keys.length) {
              const k = keys[next++]!;
              await s.put(k, body(k));
            }
          }),
        );
      }
      const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const got = await listAll(s, 'big/');
      expect(got).toHaveLength(n);
      expect(got).toEqual(expected);
      const tail = await listAll(s, 'big/9', 333);
      expect(tail).toEqual(expected.filter((k) => k.startsWith('big/9')));
    }, 180_000);

    it('round-trips a storage class (when the store has them)', async (ctx) => {
      const cls = fx.storageClass;
      if (!cls || !s.capabilities?.storageClasses.includes(cls)) {
        ctx.skip();
        return;
      }
      const info = await s.put('cls/x', body('x'), { storageClass: cls });
      expect(info.storageClass).toBe(cls);
      expect((await s.head('cls/x'))?.storageClass).toBe(cls);
      const plain = await s.put('cls/y', body('y'));
      expect(plain.storageClass).not.toBe(cls);
    });

    it('rejects an unknown option with STORAGE_INVALID_OPTIONS naming it', () => {
      let err: unknown;
      try {
        fx.open({ noSuchOption: 1 });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'STORAGE_INVALID_OPTIONS', permanent: true });
      expect((err as Error).message).toContain('noSuchOption');
    });

    whenOrdered('handles many concurrent puts to different keys', async () => {
      const n = 40;
      await Promise.all(Array.from({ length: n }, (_, i) => s.put(`many/${String(i).padStart(2, '0')}`, body(`v${i}`))));
      const keys = await listAll(s, 'many/', 9);
      expect(keys).toHaveLength(n);
      expect((await readAll(await s.get('many/07'))).toString()).toBe('v7');
    });
  });
}
