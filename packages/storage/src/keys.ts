import { StorageInvalidCursorError, StorageInvalidKeyError } from './errors.js';

/**
 * Name prefix of in-progress writes. A key segment may not start with it, so a temp file
 * can never be mistaken for (or collide with) an object.
 */
export const TEMP_PREFIX = '.mfb-tmp-';

/** Longest key, in UTF-8 bytes (the S3 limit). */
export const MAX_KEY_BYTES = 1024;
/**
 * Longest single segment, in UTF-8 bytes. Lower than the usual 255-byte file-name limit so
 * that a temp name (`.mfb-tmp-<16 hex>-<segment>`) still fits on a local filesystem.
 */
export const MAX_SEGMENT_BYTES = 200;

function checkCommon(key: string): void {
  if (typeof key !== 'string') throw new StorageInvalidKeyError(String(key), 'not a string');
  if (key.includes('\0')) throw new StorageInvalidKeyError(key, 'contains NUL');
  if (key.includes('\\')) throw new StorageInvalidKeyError(key, 'contains a backslash');
  if (key.startsWith('/')) throw new StorageInvalidKeyError(key, 'absolute keys are not allowed');
  if (/^[A-Za-z]:/.test(key)) throw new StorageInvalidKeyError(key, 'absolute keys are not allowed');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new StorageInvalidKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\x01-\x1f\x7f]/.test(key)) throw new StorageInvalidKeyError(key, 'contains a control character');
}

function checkSegment(key: string, seg: string): void {
  if (seg === '..' || seg === '.') throw new StorageInvalidKeyError(key, `"${seg}" segments are not allowed`);
  if (seg.startsWith(TEMP_PREFIX)) throw new StorageInvalidKeyError(key, `segments starting with "${TEMP_PREFIX}" are reserved`);
  if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw new StorageInvalidKeyError(key, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
}

/**
 * Validate an object key: `/`-separated, relative, no empty / `.` / `..` segments, no NUL,
 * control characters or backslashes, no trailing `/`. Throws STORAGE_INVALID_KEY.
 */
export function validateKey(key: string): string {
  checkCommon(key);
  if (key === '') throw new StorageInvalidKeyError(key, 'empty');
  const segs = key.split('/');
  for (const seg of segs) {
    if (seg === '') throw new StorageInvalidKeyError(key, 'empty segment (leading, trailing or double "/")');
    checkSegment(key, seg);
  }
  return key;
}

/**
 * Validate a list/cleanup prefix. Like a key, but it may be empty, may end with `/`, and its
 * last segment may be partial (`db1/2026` matches `db1/20261126T...`).
 */
export function validatePrefix(prefix: string): string {
  checkCommon(prefix);
  if (prefix === '') return prefix;
  const segs = prefix.split('/');
  segs.forEach((seg, i) => {
    if (i === segs.length - 1) {
      // The last segment is only a name filter (never a path component), so `.`/`..` are harmless there.
      if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw new StorageInvalidKeyError(prefix, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
      return;
    }
    if (seg === '') throw new StorageInvalidKeyError(prefix, 'empty segment (leading or double "/")');
    checkSegment(prefix, seg);
  });
  return prefix;
}

/** Byte-wise (UTF-8) key order, the order S3 and the other object stores list in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * A list cursor that is just the last key returned, tagged with the driver (`v1:` for files,
 * `s3:` ...) so a cursor from another driver is refused. Stays valid while keys come and go.
 */
export function encodeKeyCursor(tag: string, key: string): string {
  return Buffer.from(tag + key).toString('base64url');
}

/** The key inside a cursor made by {@link encodeKeyCursor}; STORAGE_INVALID_CURSOR otherwise. */
export function decodeKeyCursor(tag: string, cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString();
  if (!raw.startsWith(tag)) throw new StorageInvalidCursorError();
  return raw.slice(tag.length);
}
