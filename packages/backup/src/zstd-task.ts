/**
 * Worker-thread entry of the zstd block compressor (compress.ts `ZstdCodec`, one per thread):
 * zstd-napi is synchronous, so a small pool of these gives the parallelism. Messages in:
 * `{ id, data }`; out: `{ id, data, input }` (the input handed back for reuse) or `{ id, error }`.
 *
 * Uses the low-level binding with one reused output buffer: the high-level Compressor
 * allocates a fresh compressBound() buffer per call, and an idle worker rarely collects
 * garbage, so tens of MiB would pile up per worker.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

type Binding = typeof import('zstd-napi/binding.js');

export interface ZstdTaskData {
  level: number;
}

export type ZstdRequest = { id: number; data: Uint8Array };
export type ZstdAnswer = { id: number; data?: Uint8Array; input?: Uint8Array; error?: string };

const binding = createRequire(import.meta.url)('zstd-napi/binding.js') as Binding;
const cctx = new binding.CCtx();
cctx.setParameter(binding.CParameter.compressionLevel, (workerData as ZstdTaskData).level);
cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
let dst = new Uint8Array(0);

parentPort!.on('message', ({ id, data }: ZstdRequest) => {
  try {
    const bound = binding.compressBound(data.length);
    if (dst.length < bound) dst = new Uint8Array(bound);
    cctx.reset(binding.ResetDirective.sessionOnly);
    const n = cctx.compress2(dst, data);
    const out = dst.slice(0, n);
    // Hand the input back too, for reuse by the reader.
    parentPort!.postMessage({ id, data: out, input: data } satisfies ZstdAnswer, [out.buffer, data.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id, error: String((err as Error | undefined)?.message) } satisfies ZstdAnswer);
  }
});
