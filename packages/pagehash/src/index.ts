/**
 * Per-page hashes of SQLite database images in one native pass (Node-API addon built by
 * node-gyp at install time, `build/Release`): an XXH3-64 fingerprint with a per-chain seed
 * (cheap; finds the pages that changed since a parent) and the page's SHA-256 (the page
 * list that the snapshot digest of formatVersion 3 covers). docs/backup-format.md, 7.
 *
 * Why native: SHA-256 of 262,144 separate 4 KiB pages through `node:crypto` costs ~25% more
 * than one stream over the same bytes (a JS call and an EVP fetch per page); here it costs
 * the same as the stream, and XXH3 adds ~3% of that.
 */
import { createRequire } from 'node:module';

interface Binding {
  hashPages(
    block: Uint8Array,
    pageSize: number,
    firstPage: number,
    seed: bigint,
    fps: Uint8Array | null,
    shas: Uint8Array,
    parentFps: Uint8Array | null,
    parentShas: Uint8Array | null,
    parentCount: number,
  ): number;
  xxhashVersion: string;
}

const require = createRequire(import.meta.url);
const binding = require('../build/Release/mfb_pagehash.node') as Binding;

/** Version of the xxHash headers the addon was compiled with (e.g. `0.8.1`). */
export const xxhashVersion: string = binding.xxhashVersion;

/** Bytes of one page fingerprint (XXH3-64, big-endian) and of one page SHA-256. */
export const FP_BYTES = 8;
export const SHA_BYTES = 32;

/** The hashes of a parent image that unchanged pages take their SHA-256 from. */
export interface ParentHashes {
  /** Fingerprints of the parent's pages 1..count, 8 bytes each. */
  fps: Uint8Array;
  /** SHA-256 of the parent's pages 1..count, 32 bytes each. */
  shas: Uint8Array;
  count: number;
}

/**
 * Hash the whole pages of `block` (page-aligned; its first page is page `firstPage`):
 * fingerprints into `fps` (unless null), SHA-256 into `shas`. With `parent`, a page whose
 * fingerprint equals the parent's fingerprint of the same page number takes the parent's
 * SHA-256 unhashed. Returns the number of pages hashed with SHA-256. Runs on the calling thread.
 * Throws `ERR_OUT_OF_RANGE` for a block that is not whole pages or outputs that are too short.
 */
export function hashPages(
  block: Uint8Array,
  pageSize: number,
  firstPage: number,
  seed: bigint,
  fps: Uint8Array | null,
  shas: Uint8Array,
  parent: ParentHashes | null = null,
): number {
  return binding.hashPages(block, pageSize, firstPage, seed, fps, shas, parent?.fps ?? null, parent?.shas ?? null, parent?.count ?? 0);
}
