import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DELTA_HEADER_BYTES, DeltaApplier, deltaBlocks, type DeltaStats } from '../src/delta.js';
import { PageMap, PageMapBuilder } from '../src/pagemap.js';

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
  // Pages arrive in blocks of two (as the engine's page stream delivers them), hashes computed by the delta writer.
  async function* pages(): AsyncGenerator<{ data: Buffer; hashes: Buffer | null }> {
    for (let o = 0; o < next.length; o += 2 * pageSize) yield { data: next.subarray(o, Math.min(next.length, o + 2 * pageSize)), hashes: null };
  }
  for await (const p of deltaBlocks(pages(), header, parentMap, () => sha(next), stats, 4096)) parts.push(Buffer.from(p));
  return { payload: Buffer.concat(parts), map: nextMap.finish(), stats };
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
