import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { StorageDriver } from '@mfb/storage';
import { AppError } from '@mfb/errors';
import { DecryptStream } from './crypto.js';
import { DeltaApplier } from './delta.js';
import { ArtifactNotFoundError, ChainBrokenError, ChecksumMismatchError, ManifestMismatchError, UnknownKeyIdError } from './errors.js';
import { Meter, sha256 } from './hash.js';
import { MANIFEST_SUFFIX } from './ids.js';
import { isPaged, readManifest } from './manifest.js';
import { PAGE_HASH_BYTES, PageHashes, PageStreamDigest, loadPageHashes, loadPageMap, pageHashes, type PageMap } from './pagemap.js';
import { chainStreamError, decompressorFor, mapStreamError } from './restore-io.js';
import type { BackupOptions, IncrementalOptions, KeyRing, Manifest, VerifyOptions } from './types.js';

export const INCREMENTAL_DEFAULTS: Required<Omit<IncrementalOptions, 'forceFull'>> = {
  enabled: true,
  fullEvery: 7,
  maxChainRatio: 0.5,
  minSizeBytes: 64 * 1024 * 1024,
};

/** Read size of the final check of a reconstructed image (whole pages). */
const CHECK_BLOCK = 2 * 1024 * 1024;

/** Longest chain restore will follow (a loop guard; the policy keeps chains far shorter). */
const MAX_CHAIN = 1000;

/** The formatVersion new page-level backups are written in (docs/backup-format.md 7). */
export const PAGED_FORMAT_VERSION = 3;

export interface IncrementalPlan {
  /** A page-level backup (formatVersion 3: page-identical snapshot + page map), not a formatVersion 1 full. */
  v2: boolean;
  /** Set: this backup is a delta against it (its resolved page hashes). */
  parent: { manifest: Manifest; map: PageHashes } | null;
  /** Why a full (or why formatVersion 1). */
  reason: string;
}

/** Newest manifest of `databaseId` in `storage` (by backup id), or null. */
async function newestManifestKey(storage: StorageDriver, databaseId: string): Promise<string | null> {
  let newest: string | null = null;
  let cursor: string | undefined;
  do {
    const page = await storage.list(`${databaseId}/`, cursor ? { cursor } : {});
    for (const o of page.items) if (o.key.endsWith(MANIFEST_SUFFIX) && (newest === null || o.key > newest)) newest = o.key;
    cursor = page.cursor;
  } while (cursor);
  return newest;
}

/**
 * Links of the chain ending at `m`, full base first, each proven to be the parent its child
 * names (same database, backup id, snapshot SHA-256, page count, chain position and base).
 * BACKUP_CHAIN_BROKEN for a missing, foreign or reordered link.
 */
export async function resolveChain(storage: StorageDriver, m: Manifest): Promise<Manifest[]> {
  const links = [m];
  let child = m;
  while (isPaged(child) && child.kind === 'delta') {
    if (links.length > MAX_CHAIN) throw new ChainBrokenError(m.artifactKey, `longer than ${MAX_CHAIN} links`);
    const want = child.parent!;
    let p: Manifest;
    try {
      p = await readManifest(storage, want.artifactKey);
    } catch (err) {
      const why = err instanceof ArtifactNotFoundError ? 'is missing' : `cannot be read (${(err as Error).message})`;
      throw new ChainBrokenError(m.artifactKey, `link ${want.backupId} ${why}`, { cause: err });
    }
    const problem =
      p.formatVersion !== child.formatVersion
        ? isPaged(p)
          ? `is formatVersion ${p.formatVersion}, its delta ${child.formatVersion}`
          : 'is not an incremental-format backup'
        : p.databaseId !== child.databaseId
          ? `belongs to database ${p.databaseId}`
          : p.backupId !== child.parentId
            ? `is ${p.backupId}, not ${child.parentId}`
            : p.snapshot.sha256 !== want.snapshotSha256 || p.snapshot.sqlite.pageCount !== want.pageCount
              ? 'is not the snapshot the delta was computed against'
              : p.chainLength !== child.chainLength! - 1 || p.chain!.baseId !== child.chain!.baseId
                ? 'is out of order in the chain'
                : null;
    if (problem) throw new ChainBrokenError(m.artifactKey, `link ${want.backupId} ${problem}`);
    links.unshift(p);
    child = p;
  }
  if (isPaged(child) && child.chain!.baseId !== child.backupId) throw new ChainBrokenError(m.artifactKey, 'the base is not a full backup');
  return links;
}

/**
 * Decide what the next backup of `opts.databaseId` is. A parent is used only when the newest
 * stored backup is a formatVersion 2 one with the same encryption key, the policy allows one
 * more delta, every link of its chain is there (manifest + artifact of the recorded size) and
 * its page map proves out; anything else makes this backup a full, never a broken delta.
 */
export async function planIncremental(opts: BackupOptions, sourceBytes: number, keys: KeyRing): Promise<IncrementalPlan> {
  const cfg = { ...INCREMENTAL_DEFAULTS, ...opts.incremental };
  if (!cfg.enabled) return { v2: false, parent: null, reason: 'incremental backups are disabled' };
  if (sourceBytes < cfg.minSizeBytes) return { v2: false, parent: null, reason: `database smaller than ${cfg.minSizeBytes} bytes` };
  if (opts.incremental?.forceFull) return { v2: true, parent: null, reason: 'a full backup was asked for' };
  const full = (reason: string): IncrementalPlan => ({ v2: true, parent: null, reason });
  const key = await newestManifestKey(opts.storage, opts.databaseId);
  if (!key) return full('no earlier backup');
  let parent: Manifest;
  try {
    parent = await readManifest(opts.storage, key.slice(0, -MANIFEST_SUFFIX.length));
  } catch (err) {
    return full(`the newest backup is unreadable (${(err as Error).message})`);
  }
  if (!isPaged(parent)) return full('the newest backup has no page map (formatVersion 1)');
  if (parent.formatVersion !== PAGED_FORMAT_VERSION) return full(`the newest backup is formatVersion ${parent.formatVersion}: a new chain starts in formatVersion ${PAGED_FORMAT_VERSION}`);
  if ((parent.encryption?.keyId ?? null) !== (opts.encryption?.keyId ?? null)) return full('the newest backup uses another encryption key');
  if (parent.chainLength! + 1 > cfg.fullEvery) return full(`the chain has ${parent.chainLength} deltas (fullEvery ${cfg.fullEvery})`);
  const c = parent.chain!;
  if (c.deltaArtifactBytes > cfg.maxChainRatio * c.baseArtifactBytes)
    return full(`the chain's deltas store ${c.deltaArtifactBytes} bytes, more than ${cfg.maxChainRatio} of the full`);
  try {
    const links = await resolveChain(opts.storage, parent);
    for (const l of links) {
      const head = await opts.storage.head(l.artifactKey);
      if (!head || head.size !== l.artifact.sizeBytes) throw new ChainBrokenError(parent.artifactKey, `artifact of ${l.backupId} is missing or of another size`);
    }
    return { v2: true, parent: { manifest: parent, map: await loadPageHashes(opts.storage, links, keys) }, reason: 'delta' };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return full(`the newest backup's chain cannot be used (${err.message})`);
  }
}

/** Apply one delta link to the image at `path` (its parent's snapshot), checking every byte. */
async function applyDelta(opts: VerifyOptions, d: Manifest, path: string): Promise<void> {
  const { storage, signal } = opts;
  if (d.encryption && !opts.keys.has(d.encryption.keyId)) throw new UnknownKeyIdError(d.encryption.keyId);
  const head = await storage.head(d.artifactKey);
  if (!head) throw new ChainBrokenError(d.artifactKey, `artifact of ${d.backupId} is missing`);
  if (head.size !== d.artifact.sizeBytes) throw new ManifestMismatchError(d.artifactKey, `stored size ${head.size} != manifest ${d.artifact.sizeBytes}`);
  const fh = await open(path, 'r+');
  try {
    const fetched = new Meter();
    const plain = new Meter();
    const decrypt = d.encryption ? new DecryptStream(opts.keys) : null;
    const applier = new DeltaApplier(fh, (h) => {
      const p = d.parent!;
      if (h.pageSize !== d.snapshot.sqlite.pageSize || h.pageCount !== d.snapshot.sqlite.pageCount || h.parentPageCount !== p.pageCount || h.parentSha256 !== p.snapshotSha256)
        throw new ChainBrokenError(d.artifactKey, 'the delta header does not match its manifest');
    });
    try {
      await pipeline(
        [await storage.get(d.artifactKey, signal ? { signal } : {}), fetched, ...(decrypt ? [decrypt] : []), decompressorFor(opts, d.compression.algorithm), plain, applier],
        ...(signal ? [{ signal }] : []),
      );
    } catch (err) {
      throw mapStreamError(err, signal, chainStreamError(d.artifactKey));
    }
    if (fetched.bytes !== d.artifact.sizeBytes || fetched.hash.digest('hex') !== d.artifact.sha256) throw new ChecksumMismatchError('artifact', d.artifactKey);
    if (decrypt && d.encryption) {
      const h = decrypt.decryptor.header!;
      if (h.keyId !== d.encryption.keyId || h.chunkSize !== d.encryption.chunkSize) throw new ManifestMismatchError(d.artifactKey, 'encryption header differs from the manifest');
    }
    const delta = d.delta!;
    if (plain.bytes !== delta.sizeBytes || plain.hash.digest('hex') !== delta.sha256) throw new ChecksumMismatchError('snapshot', d.artifactKey);
    if (applier.endSha256 !== d.snapshot.sha256 || applier.records !== delta.changedPages) throw new ChainBrokenError(d.artifactKey, 'the delta end record does not match its manifest');
  } finally {
    await fh.close();
  }
}

/**
 * Check the reconstructed image at `path` against the target's manifest: every page against
 * the page map (the first differing page is named), then size and snapshot digest (formatVersion
 * 2: the file's SHA-256; 3: the page-list digest of the page SHA-256s compared). Reads into two
 * reused buffers (the next read runs while a block is hashed), so a 1 GiB image leaves no
 * trail of garbage blocks.
 */
async function checkImage(path: string, m: Manifest, map: PageMap | PageHashes, signal?: AbortSignal): Promise<void> {
  const ps = m.snapshot.sqlite.pageSize;
  const v3 = map instanceof PageHashes;
  const h = v3 ? null : sha256();
  const pages = v3 ? new PageStreamDigest(ps) : null;
  const size = Math.max(1, Math.floor(CHECK_BLOCK / ps)) * ps;
  const bufs = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
  const fh = await open(path, 'r');
  try {
    let pos = 0;
    let pgno = 0;
    let reading = fh.read(bufs[0]!, 0, size, 0);
    for (let i = 0; ; i++) {
      signal?.throwIfAborted();
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      const block = bufs[i % 2]!.subarray(0, bytesRead);
      pos += bytesRead;
      reading = fh.read(bufs[(i + 1) % 2]!, 0, size, pos);
      if (bytesRead % ps !== 0) {
        // Only the end of a file that is not a whole number of pages reads short.
        await reading;
        throw new ChecksumMismatchError('snapshot', m.artifactKey);
      }
      const bad = v3 ? firstBadV3(block, pgno, map, pages!) : firstBadV2(block, pgno, map, h!);
      if (bad) {
        await reading;
        throw new ChainBrokenError(m.artifactKey, `page ${bad} of the restored image differs from the page map`);
      }
      pgno += bytesRead / ps;
    }
    const digest = v3 ? pages!.digest() : h!.digest('hex');
    if (pgno !== map.pageCount || pos !== m.snapshot.sizeBytes || digest !== m.snapshot.sha256) throw new ChecksumMismatchError('snapshot', m.artifactKey);
  } finally {
    await fh.close();
  }
}

/** formatVersion 2: the first page of `block` (after page `before`) whose 16-byte SHA-256 prefix differs from the map's, or 0. */
function firstBadV2(block: Buffer, before: number, map: PageMap, h: ReturnType<typeof sha256>): number {
  h.update(block);
  const got = pageHashes(block, map.pageSize);
  for (let i = 0, pgno = before + 1; i < got.length / PAGE_HASH_BYTES; i++, pgno++) {
    if (pgno > map.pageCount || got.compare(map.hashes, (pgno - 1) * PAGE_HASH_BYTES, pgno * PAGE_HASH_BYTES, i * PAGE_HASH_BYTES, (i + 1) * PAGE_HASH_BYTES) !== 0) return pgno;
  }
  return 0;
}

/** formatVersion 3: the first page of `block` whose SHA-256 differs from the map's, or 0 (the pages go into the digest `pages`). */
function firstBadV3(block: Buffer, before: number, map: PageHashes, pages: PageStreamDigest): number {
  const n = block.length / map.pageSize;
  const shas = pages.addPages(block);
  const end = Math.min(map.pageCount, before + n);
  if (end > before && shas.compare(map.shas, before * 32, end * 32, 0, (end - before) * 32) === 0 && end === before + n) return 0;
  for (let i = 0; i < n; i++) {
    const pgno = before + 1 + i;
    if (pgno > map.pageCount || shas.compare(map.shas, (pgno - 1) * 32, pgno * 32, i * 32, (i + 1) * 32) !== 0) return pgno;
  }
  return 0;
}

/**
 * Rebuild the snapshot of the delta `m` at `path`: `fetchBase` writes the full base there
 * (checked against its own manifest), every delta after it is applied in order with every
 * link's checksums and bindings checked, and the result is checked page by page against
 * `m`'s page map and by its SHA-256. `alongside` (restore: the database check) runs while the
 * result is checked; its result is returned once both passed, and a failed page-map or
 * SHA-256 check is the error even when `alongside` failed too.
 */
export async function reconstructChain<T = void>(
  opts: VerifyOptions,
  m: Manifest,
  path: string,
  fetchBase: (base: Manifest) => Promise<void>,
  onLink?: (done: number, total: number) => void,
  alongside?: () => Promise<T>,
): Promise<T | undefined> {
  const links = await resolveChain(opts.storage, m);
  for (const l of links) if (l.encryption && !opts.keys.has(l.encryption.keyId)) throw new UnknownKeyIdError(l.encryption.keyId);
  const map = m.formatVersion >= PAGED_FORMAT_VERSION ? await loadPageHashes(opts.storage, links, opts.keys) : await loadPageMap(opts.storage, m, opts.keys);
  try {
    await fetchBase(links[0]!);
  } catch (err) {
    if (err instanceof ArtifactNotFoundError) throw new ChainBrokenError(m.artifactKey, `the artifact of the base ${links[0]!.backupId} is missing`, { cause: err });
    throw err;
  }
  onLink?.(1, links.length);
  for (let i = 1; i < links.length; i++) {
    opts.signal?.throwIfAborted();
    await applyDelta(opts, links[i]!, path);
    onLink?.(i + 1, links.length);
  }
  const [image, other] = await Promise.allSettled([checkImage(path, m, map, opts.signal), alongside?.()]);
  if (image.status === 'rejected') throw image.reason;
  if (other.status === 'rejected') throw other.reason;
  return other.value;
}
