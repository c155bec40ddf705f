import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { Worker } from 'node:worker_threads';
import { createGunzip, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipCompress, gzipCompressSync, libdeflateVersion, MAX_LEVEL, MIN_LEVEL } from '../src/index.js';

/** Ledger-like text with some incompressible bytes mixed in. */
function sample(bytes: number, seed = 1): Buffer {
  const words = ['groceries', 'rent', 'salary', 'coffee', 'transfer', 'insurance', 'utilities', 'dining'];
  const parts: Buffer[] = [];
  let n = seed;
  let size = 0;
  while (size < bytes) {
    n = (n * 1103515245 + 12345) % 2 ** 31;
    const p = n % 7 === 0 ? randomBytes(64) : Buffer.from(`${n % 100000};${words[n % words.length]};acct ${n % 37};${(n % 9999) / 100}\n`);
    parts.push(p);
    size += p.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

function gunzipCli(gz: Buffer): Buffer {
  return execFileSync('gunzip', ['-c'], { input: gz, maxBuffer: 256 * 1024 * 1024 });
}

describe('@mfb/deflate', () => {
  it('writes one standard gzip member that gunzip and node:zlib both read', async () => {
    const input = sample(3 * 1024 * 1024 + 17);
    const gz = await gzipCompress(input, 6);
    expect([...gz.subarray(0, 3)]).toEqual([0x1f, 0x8b, 0x08]);
    expect(gz.length).toBeLessThan(input.length);
    expect(gunzipSync(gz).equals(input)).toBe(true);
    expect(gunzipCli(gz).equals(input)).toBe(true);
    // Trailer: ISIZE = input length mod 2^32.
    expect(gz.readUInt32LE(gz.length - 4)).toBe(input.length);
  });

  it('concatenated members decompress to the concatenation (gunzip and createGunzip)', async () => {
    const blocks = [sample(1 << 20, 1), sample(12345, 2), Buffer.alloc(0), sample(700_000, 3)];
    const members = await Promise.all(blocks.map((b, i) => gzipCompress(b, [1, 6, 9, 4][i]!)));
    const file = Buffer.concat(members);
    const expected = Buffer.concat(blocks);
    expect(gunzipCli(file).equals(expected)).toBe(true);
    const streamed = await collect(Readable.from([file]).pipe(createGunzip()));
    expect(streamed.equals(expected)).toBe(true);
  });

  it('every level 0..12 round-trips; higher levels are not larger than level 1, level 0 stores', async () => {
    expect([MIN_LEVEL, MAX_LEVEL]).toEqual([0, 12]);
    const input = sample(256 * 1024, 4);
    const sizes: number[] = [];
    for (let level = MIN_LEVEL; level <= MAX_LEVEL; level++) {
      const gz = await gzipCompress(input, level);
      expect(gunzipSync(gz).equals(input)).toBe(true);
      // Deterministic: the sync variant writes the same bytes.
      expect(gzipCompressSync(input, level).equals(gz)).toBe(true);
      sizes.push(gz.length);
    }
    expect(sizes[0]).toBeGreaterThan(input.length);
    for (const l of [6, 9, 12]) expect(sizes[l]).toBeLessThanOrEqual(sizes[1]!);
    expect(sizes[12]).toBeLessThanOrEqual(sizes[6]!);
  });

  it('empty input gives a valid empty member', async () => {
    for (const input of [Buffer.alloc(0), new Uint8Array(0), new Uint8Array(new ArrayBuffer(8), 8, 0)]) {
      const gz = await gzipCompress(input, 6);
      expect(gunzipSync(gz).length).toBe(0);
      expect(gunzipCli(gz).length).toBe(0);
      expect(gzipCompressSync(input, 6).equals(gz)).toBe(true);
    }
  });

  it('reads exactly the view: Uint8Array and pooled Buffer slices with an offset', async () => {
    const big = sample(100_000, 5);
    const view = new Uint8Array(big.buffer, big.byteOffset + 1234, 50_000);
    const gz = await gzipCompress(view, 5);
    expect(gunzipSync(gz).equals(Buffer.from(view))).toBe(true);
    const pooled = Buffer.from('a small pooled buffer, a small pooled buffer');
    expect(gunzipSync(await gzipCompress(pooled.subarray(2, 30))).toString()).toBe(pooled.subarray(2, 30).toString());
  });

  it('large input (96 MiB) round-trips with the right CRC and size', async () => {
    const input = Buffer.concat([sample(48 * 1024 * 1024, 6), randomBytes(48 * 1024 * 1024)]);
    const gz = await gzipCompress(input, 1);
    expect(gunzipSync(gz).equals(input)).toBe(true);
    execFileSync('gzip', ['-t'], { input: gz });
  });

  it('parallel calls each get their own correct output', async () => {
    const inputs = Array.from({ length: 24 }, (_, i) => sample(200_000 + i * 9_999, 100 + i));
    const levels = inputs.map((_, i) => (i % 9) + 1);
    const outs = await Promise.all(inputs.map((b, i) => gzipCompress(b, levels[i])));
    outs.forEach((gz, i) => {
      expect(gunzipSync(gz).equals(inputs[i]!)).toBe(true);
      expect(gz.equals(gzipCompressSync(inputs[i]!, levels[i]))).toBe(true);
    });
  });

  it('rejects bad arguments with TypeError / RangeError', () => {
    const bad = (f: () => unknown, type: ErrorConstructor, code: string): void => {
      let caught: unknown;
      try {
        f();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(type);
      expect((caught as { code?: string }).code).toBe(code);
    };
    const call = gzipCompress as unknown as (...a: unknown[]) => unknown;
    const callSync = gzipCompressSync as unknown as (...a: unknown[]) => unknown;
    for (const f of [call, callSync]) {
      bad(() => f('text', 6), TypeError, 'ERR_INVALID_ARG_TYPE');
      bad(() => f(new Uint16Array(4), 6), TypeError, 'ERR_INVALID_ARG_TYPE');
      bad(() => f(new ArrayBuffer(4), 6), TypeError, 'ERR_INVALID_ARG_TYPE');
      bad(() => f(undefined, 6), TypeError, 'ERR_INVALID_ARG_TYPE');
      bad(() => f(Buffer.alloc(1), '6'), TypeError, 'ERR_INVALID_ARG_TYPE');
      bad(() => f(Buffer.alloc(1), null), TypeError, 'ERR_INVALID_ARG_TYPE');
      for (const level of [-1, 13, 2.5, Number.NaN, Infinity]) bad(() => f(Buffer.alloc(1), level), RangeError, 'ERR_OUT_OF_RANGE');
    }
  });

  it('loads and works in a worker thread (context-aware addon)', async () => {
    const src = `
      const { parentPort } = require('node:worker_threads');
      const { createRequire } = require('node:module');
      const binding = createRequire(${JSON.stringify(import.meta.url)})('../build/Release/mfb_deflate.node');
      binding.gzipCompress(Buffer.from('hello from a worker '.repeat(100)), 6).then((gz) => parentPort.postMessage(gz));
    `;
    const w = new Worker(src, { eval: true });
    const gz = await new Promise<Uint8Array>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    expect(gunzipSync(gz).toString()).toBe('hello from a worker '.repeat(100));
  });

  it('reports the libdeflate version it was built against', () => {
    expect(libdeflateVersion).toMatch(/^\d+\.\d+/);
  });
});
