/**
 * Tests the gs:// and azblob:// drivers share beyond the conformance suite: storage classes,
 * the sha256 proof, missing bucket/container, option validation, aborts after several
 * chunks/blocks. Each caller opens drivers against its own emulator.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import type { StorageDriver } from '../src/index.js';

export interface CloudDriverTestSetup {
  /** A driver on a fresh, empty prefix with these extra options. */
  open(options?: Record<string, unknown>): StorageDriver;
  /** Class given as the driver option, one given per put, and what the provider applies by default. */
  storageClasses: { option: string; put: string; default: string };
  /** A driver whose bucket/container does not exist. */
  missingContainer(): StorageDriver;
  /** What the error message must contain to name the target. */
  redactedTarget: RegExp;
}

function body(data: Buffer, chunk = 64 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  return Readable.from(parts);
}

async function keys(s: StorageDriver): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const p = await s.list('', cursor ? { cursor } : {});
    out.push(...p.items.map((i) => i.key));
    cursor = p.cursor;
  } while (cursor);
  return out;
}

export function cloudDriverTests(t: CloudDriverTestSetup): void {
  it('applies the storage class (option, then per put) and reports it from put, head and list', async () => {
    const s = t.open({ storageClass: t.storageClasses.option });
    const a = await s.put('sc/a', body(Buffer.from('a')));
    expect(a.storageClass).toBe(t.storageClasses.option);
    const b = await s.put('sc/b', body(Buffer.from('b')), { storageClass: t.storageClasses.put });
    expect(b.storageClass).toBe(t.storageClasses.put);
    expect((await s.head('sc/a'))?.storageClass).toBe(t.storageClasses.option);
    expect((await s.head('sc/b'))?.storageClass).toBe(t.storageClasses.put);
    const listed = (await s.list('sc/')).items.map((i) => [i.key, i.storageClass]);
    expect(listed).toEqual([
      ['sc/a', t.storageClasses.option],
      ['sc/b', t.storageClasses.put],
    ]);
    const plain = t.open();
    expect((await plain.put('x', body(Buffer.from('x')))).storageClass).toBe(t.storageClasses.default);
  });

  it('rejects an unknown storage class, unknown option keys and options given twice', async () => {
    expect(() => t.open({ storageClass: 'FROZEN' })).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_OPTIONS' }));
    expect(() => t.open({ bogus: 1 })).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_OPTIONS', message: expect.stringContaining('storageClass') }));
    const s = t.open();
    await expect(s.put('x', body(Buffer.from('x')), { storageClass: 'FROZEN' })).rejects.toMatchObject({ code: 'STORAGE_INVALID_OPTIONS' });
    expect(await s.head('x')).toBeNull();
  });

  it('a put with the right sha256 is stored; a wrong one is rejected and leaves the old version', async () => {
    const s = t.open();
    const data = randomBytes(600 * 1024);
    const sha256 = createHash('sha256').update(data).digest('hex');
    expect((await s.put('h/ok', body(data), { sha256 })).size).toBe(data.length);
    const wrong = createHash('sha256').update('something else').digest('hex');
    const err = await s.put('h/bad', body(data), { sha256: wrong }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'STORAGE_CHECKSUM_MISMATCH', permanent: false });
    expect(await s.head('h/bad')).toBeNull();
    await expect(s.put('h/ok', body(randomBytes(1000)), { sha256: wrong })).rejects.toMatchObject({ code: 'STORAGE_CHECKSUM_MISMATCH' });
    expect((await s.head('h/ok'))?.size).toBe(data.length);
    expect(await keys(s)).toEqual(['h/ok']);
  });

  it('an empty body is stored with its sha256 checked', async () => {
    const s = t.open();
    const empty = createHash('sha256').digest('hex');
    expect(await s.put('e/ok', Readable.from([]), { sha256: empty })).toMatchObject({ key: 'e/ok', size: 0 });
    const wrong = createHash('sha256').update('x').digest('hex');
    await expect(s.put('e/bad', Readable.from([]), { sha256: wrong })).rejects.toMatchObject({ code: 'STORAGE_CHECKSUM_MISMATCH' });
    expect(await keys(s)).toEqual(['e/ok']);
  });

  it('an upload aborted after several chunks/blocks leaves nothing', async () => {
    const s = t.open();
    const ac = new AbortController();
    let sent = 0;
    const src = new Readable({
      read() {
        if (sent >= 3 * 1024 * 1024) {
          ac.abort();
          return; // stall: the abort must end the put
        }
        sent += 256 * 1024;
        this.push(randomBytes(256 * 1024));
      },
    });
    await expect(s.put('ab/big', src, { signal: ac.signal })).rejects.toMatchObject({ code: 'STORAGE_ABORTED' });
    expect(await s.head('ab/big')).toBeNull();
    expect(await keys(s)).toEqual([]);
  });

  it('a missing bucket/container fails at once with a permanent code naming the target', async () => {
    const s = t.missingContainer();
    const calls = [() => s.put('k', body(Buffer.from('x'))), () => s.head('k'), () => s.get('k'), () => s.list('')];
    for (const call of calls) {
      const err = (await call().then(
        () => undefined,
        (e: unknown) => e,
      )) as Error & { code?: string; permanent?: boolean };
      expect(err).toMatchObject({ code: 'STORAGE_BUCKET_NOT_FOUND', permanent: true });
      expect(err.message).toMatch(t.redactedTarget);
      expect(err.message.length).toBeLessThan(300);
    }
  });

  it('lists in pages whose cursor resumes where the last page ended', async () => {
    const s = t.open();
    const names = Array.from({ length: 12 }, (_, i) => `pg/${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((k) => s.put(k, body(Buffer.from(k)))));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const p = await s.list('pg/', { limit: 5, ...(cursor ? { cursor } : {}) });
      expect(p.items.length).toBeLessThanOrEqual(5);
      seen.push(...p.items.map((i) => i.key));
      cursor = p.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);
  });
}
