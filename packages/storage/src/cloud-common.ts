/**
 * Pieces the GCS and Azure drivers share: URL parsing of `<scheme>://<container>/<prefix>`,
 * the hashing/progress tap of a put's body, and the mapping of provider HTTP errors to the
 * storage error classes.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { PutOptions } from './driver.js';
import {
  StorageAbortedError,
  StorageAccessDeniedError,
  StorageAuthFailedError,
  StorageBucketNotFoundError,
  StorageChecksumMismatchError,
  StorageError,
  StorageInvalidOptionsError,
  StorageInvalidUrlError,
  StorageIoError,
  StorageRejectedError,
  StorageUnavailableError,
} from './errors.js';
import { validateKey, validatePrefix } from './keys.js';
import { checkSha256Option } from './options.js';

/** A bucket-style URL split into its parts; `prefix` has no leading or trailing `/`. */
export interface CloudLocation {
  /** Path segments before the prefix (GCS: [bucket]; Azure: [account, container]). */
  names: string[];
  prefix: string;
  query: URLSearchParams;
}

/**
 * Parse `<scheme>://<name1>/<name2>.../<prefix...>?options`. Credentials in the URL
 * (`user:pass@`) are refused: they belong in the provider's chain or `credentialsFile`.
 */
export function parseCloudUrl(url: string, safeUrl: string, scheme: string, nameCount: number, nameRule: (name: string, i: number) => string | undefined): CloudLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StorageInvalidUrlError(safeUrl, `expected ${scheme}://...`);
  }
  if (u.protocol !== `${scheme}:`) throw new StorageInvalidUrlError(safeUrl, `expected the ${scheme}:// scheme`);
  if (u.username || u.password) {
    throw new StorageInvalidUrlError(safeUrl, 'credentials do not belong in the URL (use the provider credential chain or the credentialsFile option)');
  }
  if (u.hash) throw new StorageInvalidUrlError(safeUrl, 'a #fragment is not allowed');
  const parts = [decodeURIComponent(u.hostname), ...u.pathname.split('/').slice(1).map((s) => decodeURIComponent(s))];
  const names = parts.slice(0, nameCount);
  for (let i = 0; i < nameCount; i++) {
    const name = names[i] ?? '';
    const problem = name === '' ? 'is missing' : nameRule(name, i);
    if (problem) throw new StorageInvalidUrlError(safeUrl, `${['first', 'second'][i] ?? 'a'} name ${JSON.stringify(name)} ${problem}`);
  }
  const rest = parts.slice(nameCount);
  while (rest.length > 0 && rest[rest.length - 1] === '') rest.pop();
  const prefix = rest.join('/');
  if (prefix !== '') {
    try {
      validatePrefix(prefix);
    } catch (err) {
      throw new StorageInvalidUrlError(safeUrl, `bad prefix: ${(err as Error).message}`);
    }
  }
  return { names, prefix, query: u.searchParams };
}

/**
 * The checks at the start of every cloud put: key, `sha256` shape, storage class (the put's,
 * else the driver's default) and an already aborted signal. The body is destroyed when one fails.
 * Returns the put's description for messages and the storage class to apply.
 */
export function beginPut(
  key: string,
  body: Readable,
  opts: PutOptions,
  safeUrl: string,
  classes: readonly string[],
  defaultClass: string | undefined,
): { op: string; storageClass: string | undefined } {
  const op = `put ${key} to ${safeUrl}`;
  try {
    validateKey(key);
    checkSha256Option(opts.sha256);
    const storageClass = opts.storageClass ?? defaultClass;
    if (storageClass !== undefined && !classes.includes(storageClass)) {
      throw new StorageInvalidOptionsError(safeUrl, `storage class ${JSON.stringify(storageClass)} is not one of ${classes.join(', ')}`);
    }
    if (opts.signal?.aborted) throw new StorageAbortedError(op, opts.signal.reason);
    return { op, storageClass };
  } catch (err) {
    body.destroy();
    throw err;
  }
}

/** The full object name of `key` under `prefix`. */
export function joinKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}/${key}`;
}

/** The key of a full object name under `prefix` (inverse of {@link joinKey}). */
export function stripPrefix(prefix: string, name: string): string {
  return prefix === '' ? name : name.slice(prefix.length + 1);
}

/**
 * A pass-through that counts and SHA-256-hashes what a put reads from its body, reports
 * progress, and (with `expectedSha256`) fails at the end of the body on a mismatch, before the
 * driver can commit the upload.
 */
export class BodyTap extends Transform {
  bytes = 0;
  private readonly hash: Hash | undefined;
  constructor(
    private readonly key: string,
    private readonly safeUrl: string,
    private readonly expectedSha256: string | undefined,
    private readonly onProgress: ((bytesDone: number) => void) | undefined,
  ) {
    super();
    // Hashing 1 GiB costs seconds of CPU: only when there is a hash to check.
    this.hash = expectedSha256 === undefined ? undefined : createHash('sha256');
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = this.hash?.digest('hex');
    if (this.expectedSha256 !== undefined && actual !== this.expectedSha256) {
      cb(new StorageChecksumMismatchError(this.key, this.safeUrl, this.expectedSha256, actual ?? ''));
      return;
    }
    cb();
  }
}

const TRANSIENT_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'REQUEST_SEND_ERROR']);

/** What a provider error says, extracted by the driver from its SDK's error shape. */
export interface ProviderFailure {
  status?: number;
  /** Provider error code (`ContainerNotFound`, `AuthenticationFailed`) or Node errno code. */
  code?: string;
  /** True when the 404 is about the bucket/container, not the object. */
  bucketMissing?: boolean;
  /** True when a 401/403 means "credentials not accepted" rather than "not allowed". */
  authFailed?: boolean;
  /** True when the provider refused a body whose checksum did not match (damaged in transit: retry). */
  integrity?: boolean;
}

/**
 * Map a provider failure to a storage error naming the target by its redacted URL. Errors
 * that are already storage errors, and errors of the caller's own body stream (`bodyError`),
 * pass through unchanged so their code survives.
 */
export function mapCloudError(operation: string, safeUrl: string, err: unknown, f: ProviderFailure, signal?: AbortSignal): Error {
  if (err instanceof StorageError) return err;
  if (signal?.aborted) return new StorageAbortedError(operation, err);
  const { status, code } = f;
  if (f.bucketMissing) return new StorageBucketNotFoundError(operation, safeUrl, err);
  if (status === 401 || f.authFailed) return new StorageAuthFailedError(operation, safeUrl, err);
  if (status === 403) return new StorageAccessDeniedError(operation, safeUrl, err);
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) {
    return new StorageUnavailableError(operation, safeUrl, `HTTP ${status}${code ? ` ${code}` : ''}`, err);
  }
  if (code && TRANSIENT_NET.has(code)) return new StorageUnavailableError(operation, safeUrl, code, err);
  if (f.integrity) return new StorageUnavailableError(operation, safeUrl, `the provider refused a damaged body (${code ?? `HTTP ${status}`}); retry`, err);
  // Any other 4xx: retrying the same request cannot succeed.
  if (status !== undefined && status >= 400) return new StorageRejectedError(operation, safeUrl, `${code ?? 'HTTP'} ${status}`, err);
  return new StorageIoError(operation, err);
}
