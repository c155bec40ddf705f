import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FP_BYTES, SHA_BYTES, hashPages } from '@mfb/pagehash';
import { DELTA_HEADER_BYTES, DeltaApplier, deltaBlocks, type DeltaStats } from '../src/delta.js';
import { PageHashes, PageListDigest, PageMap, PageMapBuilder, PageMapWriter, PageStreamDigest, StoredPageMap } from '../src/pagemap.js';

const here = dirname(fileURLToPath(import.meta.url));
const DOC = readFileSync(join(here, '../../../docs/backup-format.md'), 'utf8');

function field(block: string, name: string): string {
  const line = block.split('\n').find((l) => l.startsWith(name + ':'));
  if (line === undefined) throw new Error(`vector has no ${name}`);
  return line.slice(name.length + 1).trim();
}

/** Pages given as byte values: page N is `pageSize` bytes of the N-th value. */
function image(pageSize: number, values: string): Buffer {
  return Buffer.concat(values.split(/\s+/).map((v) => Buffer.alloc(pageSize, parseInt(v, 16))));
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Compute the delta payload and page map the engine writes for `parent` -> `next`. */
async function computeDelta(pageSize: number, parent: Buffer, next: Buffer): Promise<{ payload: Buffer; map: PageMap; stats: DeltaStats }> {
  const b = new PageMapBuilder(pageSize);
  b.add(parent);
  const parentMap = b.finish();
  const nextMap = new PageMapBuilder(pageSize);
  nextMap.add(next);
  const stats: DeltaStats = { changedPages: 0, snapshotSha256: null };
  const parts: Buffer[] = [];
  const header = { pageSize, parentPageCount: parent.length / pageSize, pageCount: next.length / pageSize, parentSha256: sha(parent) };
  // formatVersion 2 chose the changed pages by their SHA-256 prefixes; the writer now chooses
  // them by fingerprint: the same pages for these images, so the documented payload must result.
  const parentHashes = v3Hashes(pageSize, parent, 0n);
  for await (const p of deltaBlocks(blocksOf(pageSize, next, 0n), header, parentHashes.asParent(), () => sha(next), stats, 4096)) parts.push(Buffer.from(p));
  expect(parentMap.pageCount).toBe(parentHashes.pageCount);
  return { payload: Buffer.concat(parts), map: nextMap.finish(), stats };
}

/** Fingerprints and SHA-256 of every page of `img` (formatVersion 3), computed by the addon. */
function v3Hashes(pageSize: number, img: Buffer, seed: bigint): PageHashes {
  const n = img.length / pageSize;
  const fps = Buffer.alloc(n * FP_BYTES);
  const shas = Buffer.alloc(n * SHA_BYTES);
  hashPages(img, pageSize, 1, seed, fps, shas);
  return new PageHashes(pageSize, n, seed, fps, shas);
}

/** `img` in blocks of two pages (as the engine's page stream delivers them) with their fingerprints. */
async function* blocksOf(pageSize: number, img: Buffer, seed: bigint): AsyncGenerator<{ firstPage: number; data: Buffer; fps: Buffer; shas: Buffer }> {
  for (let o = 0; o < img.length; o += 2 * pageSize) {
    const data = img.subarray(o, Math.min(img.length, o + 2 * pageSize));
    const n = data.length / pageSize;
    const fps = Buffer.alloc(n * FP_BYTES);
    const shas = Buffer.alloc(n * SHA_BYTES);
    hashPages(data, pageSize, o / pageSize + 1, seed, fps, shas);
    yield { firstPage: o / pageSize + 1, data, fps, shas };
  }
}

describe('delta and page map test vectors of docs/backup-format.md', () => {
  const blocks = [...DOC.matchAll(/```delta-vector\n([\s\S]*?)```/g)].map((m) => m[1]!);
  it('the document has the vectors', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
  });
  for (const v of blocks) {
    it(`byte for byte: ${field(v, 'name')}`, async () => {
      const ps = Number(field(v, 'pageSize'));
      const parent = image(ps, field(v, 'parentPages'));
      const next = image(ps, field(v, 'newPages'));
      expect(sha(parent)).toBe(field(v, 'parentSha256'));
      expect(sha(next)).toBe(field(v, 'newSha256'));
      const { payload, map } = await computeDelta(ps, parent, next);
      expect(map.encode().toString('hex')).toBe(field(v, 'pageMap'));
      expect(payload.subarray(0, DELTA_HEADER_BYTES).toString('hex')).toBe(field(v, 'payloadHeader'));
      expect(payload.subarray(payload.length - 40).toString('hex')).toBe(field(v, 'payloadEnd'));
      expect(payload.length).toBe(Number(field(v, 'payloadLength')));
      expect(sha(payload)).toBe(field(v, 'payloadSha256'));
      // Applying it to the parent gives the new image.
      const dir = await mkdtemp(join(tmpdir(), 'mfb-delta-apply-'));
      try {
        const path = join(dir, 'img');
        await writeFile(path, parent);
        const fh = await open(path, 'r+');
        const ap = new DeltaApplier(fh, () => undefined);
        await new Promise<void>((resolve, reject) => {
          ap.on('finish', resolve).on('error', reject);
          ap.end(payload);
        });
        await fh.close();
        expect(readFileSync(path).equals(next)).toBe(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('formatVersion 3 test vectors of docs/backup-format.md', () => {
  const blocks = [...DOC.matchAll(/```delta-vector-v3\n([\s\S]*?)```/g)].map((m) => m[1]!);
  it('the document has the vectors', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
  });
  for (const v of blocks) {
    it(`byte for byte: ${field(v, 'name')}`, async () => {
      const ps = Number(field(v, 'pageSize'));
      const seed = BigInt(field(v, 'seed'));
      const parent = image(ps, field(v, 'parentPages'));
      const next = image(ps, field(v, 'newPages'));
      // The parent's full page map and digest.
      const parentMap = new PageMapWriter(ps, seed, null);
      for await (const b of blocksOf(ps, parent, seed)) parentMap.add(b.firstPage, b.fps, b.shas);
      const storedParent = parentMap.finish();
      expect(storedParent.encode().toString('hex')).toBe(field(v, 'parentPageMap'));
      const parentHashes = storedParent.hashes();
      expect(parentHashes.digest()).toBe(field(v, 'parentDigest'));
      // The digest of the bytes (what a restore computes) is the same.
      expect(new PageStreamDigest(ps).update(parent.subarray(0, 100)).update(parent.subarray(100)).digest('hex')).toBe(field(v, 'parentDigest'));
      expect(new PageStreamDigest(ps).update(parent.subarray(0, 100)).update(parent.subarray(100, 150)).update(parent.subarray(150, 700)).update(parent.subarray(700)).digest('hex')).toBe(field(v, 'parentDigest'));
      expect(new PageStreamDigest(ps).update(parent.subarray(0, 700)).digest('hex')).toBe('partial-page');
      // The delta: sparse page map, payload, new digest.
      const writer = new PageMapWriter(ps, seed, parentHashes.asParent());
      const digest = new PageListDigest(ps);
      const stats: DeltaStats = { changedPages: 0, snapshotSha256: null };
      const header = { pageSize: ps, parentPageCount: parent.length / ps, pageCount: next.length / ps, parentSha256: parentHashes.digest() };
      async function* tapped(): AsyncGenerator<{ data: Buffer; fps: Buffer }> {
        for await (const b of blocksOf(ps, next, seed)) {
          writer.add(b.firstPage, b.fps, b.shas);
          digest.addShas(b.shas);
          yield b;
        }
      }
      const parts: Buffer[] = [];
      for await (const p of deltaBlocks(tapped(), header, parentHashes.asParent(), () => digest.digest(), stats, 4096)) parts.push(Buffer.from(p));
      const payload = Buffer.concat(parts);
      const sparse = writer.finish();
      expect(sparse.encode().toString('hex')).toBe(field(v, 'newPageMap'));
      expect(stats.snapshotSha256).toBe(field(v, 'newDigest'));
      expect(payload.subarray(0, DELTA_HEADER_BYTES).toString('hex')).toBe(field(v, 'payloadHeader'));
      expect(payload.subarray(payload.length - 40).toString('hex')).toBe(field(v, 'payloadEnd'));
      expect(payload.length).toBe(Number(field(v, 'payloadLength')));
      expect(sha(payload)).toBe(field(v, 'payloadSha256'));
      // Resolving the sparse map against the parent's gives the new image's own hashes.
      const resolved = parentHashes.apply(StoredPageMap.decode(sparse.encode()));
      const own = v3Hashes(ps, next, seed);
      expect(resolved.fps.equals(own.fps) && resolved.shas.equals(own.shas)).toBe(true);
      expect(resolved.digest()).toBe(field(v, 'newDigest'));
    });
  }

  it('a sparse map that leaves out a page beyond its parent, or belongs to another chain, is refused', () => {
    const ps = 512;
    const parent = v3Hashes(ps, image(ps, '01 02'), 5n);
    const next = v3Hashes(ps, image(ps, '01 02 03 04'), 5n);
    const onlyPage3 = new StoredPageMap('sparse', ps, 4, 5n, 1, Buffer.from('00000003', 'hex'), next.fps.subarray(16, 24), next.shas.subarray(64, 96));
    expect(() => parent.apply(onlyPage3)).toThrow(/beyond its parent/);
    const otherSeed = new StoredPageMap('sparse', ps, 2, 6n, 0, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0));
    expect(() => parent.apply(otherSeed)).toThrow(/another chain/);
  });
});
