/**
 * Encryption keys: the one decoder and the one key-file reader, for the config's `keys[]`
 * and `MFB_KEY_<ID>` and for the CLI's `--key-file`. Messages never contain key material.
 */
import { readFileSync, statSync } from 'node:fs';

/** Decode a base64 key; the problem (no key material) or the 32-byte buffer. */
export function decodeKey(text: string): Buffer | string {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return 'is not valid base64';
  const buf = Buffer.from(t, 'base64');
  if (buf.length !== 32) return `must decode to 32 bytes (AES-256), got ${buf.length}`;
  return buf;
}

/**
 * The one rule for key files, for the config's `keys[].file` and the CLI's `--key-file`: a key
 * that group or others can read is refused (it may already have leaked). Returns the problem
 * (no key material), or null when `mode` is private.
 */
export function keyFileModeProblem(file: string, mode: number): string | null {
  if ((mode & 0o077) === 0) return null;
  return `key file ${file} is accessible by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); refusing to use it: run chmod 600 ${file}`;
}

/**
 * What {@link readKeyFile} found: the key, or why not (`missing`: no such file; `invalid`:
 * not a regular file, readable by group/others, unreadable or not a key).
 */
export type KeyFileResult = { ok: true; key: Buffer } | { ok: false; reason: 'missing' | 'invalid'; problem: string };

/**
 * Read a key file: a regular file, mode 0600 or stricter ({@link keyFileModeProblem}), holding
 * a 32-byte key: base64 (as `backupctl init` and `generateKeyFile` write it) or 64 hex digits;
 * surrounding white space is ignored.
 */
export function readKeyFile(file: string): KeyFileResult {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: 'missing', problem: `key file ${file} does not exist` };
    return { ok: false, reason: 'invalid', problem: `key file ${file} cannot be read (${code})` };
  }
  if (!st.isFile()) return { ok: false, reason: 'invalid', problem: `key file ${file} is not a regular file` };
  const modeProblem = keyFileModeProblem(file, st.mode);
  if (modeProblem) return { ok: false, reason: 'invalid', problem: modeProblem };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, reason: 'invalid', problem: `key file ${file} cannot be read (${(err as NodeJS.ErrnoException).code})` };
  }
  const hex = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return { ok: true, key: Buffer.from(hex, 'hex') };
  const key = decodeKey(text);
  if (typeof key === 'string') return { ok: false, reason: 'invalid', problem: `key file ${file} does not hold a 32-byte key (base64 or 64 hex digits): ${key}` };
  return { ok: true, key };
}
