import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPages, xxhashVersion } from '../src/index.js';

const page = (v: number, size = 512): Buffer => Buffer.alloc(size, v);
const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

describe('@mfb/pagehash', () => {
  it('SHA-256 and XXH3-64 of every page (xxhsum -H3 of 512 x 0x01 with seed 0: e3916c6f3303cc0f)', () => {
    expect(xxhashVersion).toMatch(/^0\.8\./);
    const block = Buffer.concat([page(1), page(2), page(3)]);
    const fps = Buffer.alloc(24);
    const shas = Buffer.alloc(96);
    expect(hashPages(block, 512, 1, 0n, fps, shas)).toBe(3);
    expect(fps.subarray(0, 8).toString('hex')).toBe('e3916c6f3303cc0f');
    for (let i = 0; i < 3; i++) expect(shas.subarray(i * 32, (i + 1) * 32).equals(sha(page(i + 1)))).toBe(true);
    const other = Buffer.alloc(24);
    hashPages(block, 512, 1, 12345n, other, Buffer.alloc(96));
    expect(other.subarray(0, 8).equals(fps.subarray(0, 8))).toBe(false);
  });

  it('with a parent: pages whose fingerprint is the parent\'s take its SHA-256 unhashed; changed and new pages are hashed', () => {
    const seed = 99n;
    const parentImg = Buffer.concat([page(1), page(2)]);
    const pfps = Buffer.alloc(16);
    hashPages(parentImg, 512, 1, seed, pfps, Buffer.alloc(64));
    // Marker SHA-256s: a page taken from the parent shows the marker, not its real hash.
    const pshas = Buffer.alloc(64, 0xee);
    const block = Buffer.concat([page(1), page(9), page(3)]);
    const fps = Buffer.alloc(24);
    const shas = Buffer.alloc(96);
    expect(hashPages(block, 512, 1, seed, fps, shas, { fps: pfps, shas: pshas, count: 2 })).toBe(2);
    expect(shas.subarray(0, 32).equals(Buffer.alloc(32, 0xee))).toBe(true);
    expect(shas.subarray(32, 64).equals(sha(page(9)))).toBe(true);
    expect(shas.subarray(64, 96).equals(sha(page(3)))).toBe(true);
    // Page numbers count from firstPage: the same bytes at page 2 compare with the parent's page 2.
    const at2 = Buffer.alloc(32);
    expect(hashPages(page(2), 512, 2, seed, Buffer.alloc(8), at2, { fps: pfps, shas: pshas, count: 2 })).toBe(0);
  });

  it('rejects blocks that are not whole pages, short outputs and bad page sizes', () => {
    expect(() => hashPages(Buffer.alloc(700), 512, 1, 0n, null, Buffer.alloc(64))).toThrow(/whole number of pages/);
    expect(() => hashPages(Buffer.alloc(1024), 512, 1, 0n, null, Buffer.alloc(32))).toThrow(/too short/);
    expect(() => hashPages(Buffer.alloc(1024), 500, 1, 0n, null, Buffer.alloc(64))).toThrow(/power of two/);
    expect(() => hashPages(Buffer.alloc(1024), 512, 0, 0n, null, Buffer.alloc(64))).toThrow(/firstPage/);
  });
});
