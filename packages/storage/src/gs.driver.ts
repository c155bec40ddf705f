/**
 * `gs://bucket/prefix`: Google Cloud Storage through @google-cloud/storage (loaded on first use).
 *
 * Uploads are resumable sessions written in `chunkSize` requests (the SDK keeps one chunk in
 * memory so it can resend it), validated end to end: the final request carries the body's
 * crc32c (or md5) in `X-Goog-Hash`, GCS refuses to finalize on a mismatch, and the SDK
 * compares the stored object's hash again. `PutOptions.sha256` is checked when the body ends,
 * before the final request, so a mismatching body never becomes an object. A failed or
 * aborted put cancels its session; nothing is left under the key.
 */
import { Readable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readFile } from 'node:fs/promises';
import type { Bucket, File, Storage, StorageOptions } from '@google-cloud/storage';
import type { ListPage, ObjectInfo, PutOptions, StorageCapabilities, StorageDriver } from './driver.js';
import { BodyTap, beginPut, joinKey, mapCloudError, parseCloudUrl, stripPrefix, type ProviderFailure } from './cloud-common.js';
import {
  StorageAbortedError,
  StorageAuthFailedError,
  StorageChecksumMismatchError,
  StorageInvalidCursorError,
  StorageInvalidOptionsError,
  StorageNotFoundError,
} from './errors.js';
import { validateKey, validatePrefix } from './keys.js';
import { parseDriverOptions, type ParsedOptions } from './options.js';
import type { OpenStorageOptions } from './registry.js';
import { redactUrl } from './registry.js';

export const GCS_STORAGE_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'] as const;
const CHUNK_GRANULARITY = 256 * 1024;

const GS_OPTIONS = {
  /** Storage class of new objects (default: the bucket's default class). */
  storageClass: { type: 'enum', values: GCS_STORAGE_CLASSES },
  /** Service-account key (or other google-auth JSON credentials) file; default: ADC chain. */
  credentialsFile: { type: 'string' },
  /** Project id for requests that need one (default: from the credentials). */
  projectId: { type: 'string' },
  /** JSON API endpoint, e.g. an emulator `http://127.0.0.1:4443`. */
  apiEndpoint: { type: 'string' },
  /** Bytes per resumable-upload request (a multiple of 256 KiB); memory held per upload. */
  chunkSize: { type: 'bytes', min: CHUNK_GRANULARITY, max: 1 << 30 },
  /** Hash GCS verifies on every upload. */
  validation: { type: 'enum', values: ['crc32c', 'md5'] },
} as const;

type GsOptions = ParsedOptions<typeof GS_OPTIONS>;

interface GcsError {
  code?: number | string;
  message?: string;
  errors?: Array<{ reason?: string }>;
}

function failureOf(err: unknown): ProviderFailure {
  // ApiError (JSON API calls) or GaxiosError (resumable-upload requests, body in response.data).
  const e = (err ?? {}) as GcsError & { response?: { status?: number; data?: { error?: GcsError } } };
  const body = typeof e.response?.data === 'object' ? e.response.data?.error : undefined;
  const status = typeof e.code === 'number' ? e.code : e.response?.status;
  const code = typeof e.code === 'string' ? e.code : (e.errors ?? body?.errors)?.[0]?.reason;
  const msg = `${typeof e.message === 'string' ? e.message : ''} ${body?.message ?? ''}`;
  return {
    ...(status !== undefined ? { status } : {}),
    ...(code !== undefined ? { code } : {}),
    bucketMissing: status === 404 && /bucket does not exist/i.test(msg),
    // GCS refusing to finalize on an X-Goog-Hash mismatch (400), or the SDK's own after-upload check.
    integrity: code === 'FILE_NO_UPLOAD' || /checksum|hash mismatch|md5|crc32c/i.test(msg),
    // google-auth-library: no credentials found, unreadable key, token endpoint refusing them.
    authFailed: /could not load the default credentials|invalid_grant|invalid_client|unauthorized_client|invalid jwt|private key/i.test(msg),
  };
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The body's first non-empty chunk, or null when it ends without data; rejects on its error or an abort. */
function firstChunk(body: Readable, signal: AbortSignal | undefined): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onReadable = (): void => {
      let c: Buffer | string | null;
      while ((c = body.read() as Buffer | string | null) !== null) {
        const buf = Buffer.isBuffer(c) ? c : Buffer.from(c);
        if (buf.length > 0) {
          done();
          resolve(buf);
          return;
        }
      }
    };
    const onEnd = (): void => {
      done();
      resolve(null);
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const onAbort = (): void => {
      done();
      reject(signal?.reason);
    };
    body.on('readable', onReadable);
    body.once('end', onEnd);
    body.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (body.readableEnded) onEnd();
  });
}

export class GcsStorageDriver implements StorageDriver {
  readonly url: string;
  readonly capabilities: StorageCapabilities = { storageClasses: GCS_STORAGE_CLASSES };
  private clientP: Promise<Bucket> | undefined;
  private readonly chunkSize: number;

  private constructor(
    url: string,
    readonly bucketName: string,
    readonly prefix: string,
    private readonly options: GsOptions,
  ) {
    this.url = url;
    this.chunkSize = options.chunkSize ?? 16 * 1024 * 1024;
  }

  static fromUrl(url: string, opts: OpenStorageOptions = {}): GcsStorageDriver {
    const safe = redactUrl(url);
    const loc = parseCloudUrl(url, safe, 'gs', 1, (name) =>
      /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(name) ? undefined : 'is not a valid bucket name (3-222 of a-z 0-9 . _ -)',
    );
    const options = parseDriverOptions(safe, GS_OPTIONS, loc.query, opts.options);
    if (options.chunkSize !== undefined && options.chunkSize % CHUNK_GRANULARITY !== 0) {
      throw new StorageInvalidOptionsError(safe, `option "chunkSize" must be a multiple of 256KiB (got ${options.chunkSize})`, { option: 'chunkSize' });
    }
    if (options.apiEndpoint !== undefined && !/^https?:\/\/[^/?#@]+\/?$/.test(options.apiEndpoint)) {
      throw new StorageInvalidOptionsError(safe, 'option "apiEndpoint" must be an http(s) origin such as http://127.0.0.1:4443', { option: 'apiEndpoint' });
    }
    return new GcsStorageDriver(safe, loc.names[0]!, loc.prefix, options);
  }

  /** The bucket handle; the SDK is imported on the first call. */
  private bucket(op: string): Promise<Bucket> {
    this.clientP ??= (async () => {
      const { Storage: StorageCtor, IdempotencyStrategy } = await import('@google-cloud/storage');
      const o: StorageOptions = {
        // Retry writes too (the SDK's default retries only conditional ones): every request
        // the driver makes is safe to repeat (a put rewrites the same bytes, delete is idempotent).
        retryOptions: { autoRetry: true, maxRetries: 3, idempotencyStrategy: IdempotencyStrategy.RetryAlways },
      };
      if (this.options.projectId) o.projectId = this.options.projectId;
      if (this.options.credentialsFile) {
        let json: unknown;
        try {
          json = JSON.parse(await readFile(this.options.credentialsFile, 'utf8'));
        } catch (err) {
          throw new StorageAuthFailedError(`${op}: cannot read credentialsFile ${this.options.credentialsFile}`, this.url, err);
        }
        o.credentials = json as StorageOptions['credentials'];
      }
      if (this.options.apiEndpoint) {
        o.apiEndpoint = this.options.apiEndpoint.replace(/\/$/, '');
        // Custom endpoints (emulators) get no credentials unless a key file is named.
        o.useAuthWithCustomEndpoint = this.options.credentialsFile !== undefined;
        o.projectId ??= 'emulator';
      }
      const storage: Storage = new StorageCtor(o);
      return storage.bucket(this.bucketName);
    })();
    this.clientP.catch(() => (this.clientP = undefined));
    return this.clientP;
  }

  private fail(op: string, err: unknown, signal?: AbortSignal): Error {
    return mapCloudError(op, this.url, err, failureOf(err), signal);
  }

  private info(key: string, md: File['metadata']): ObjectInfo {
    return {
      key,
      size: Number(md.size ?? 0),
      lastModified: new Date(String(md.updated ?? md.timeCreated ?? 0)),
      ...(md.storageClass ? { storageClass: String(md.storageClass) } : {}),
    };
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<ObjectInfo> {
    const { op, storageClass } = beginPut(key, body, opts, this.url, GCS_STORAGE_CLASSES, this.options.storageClass);
    const { signal } = opts;
    let file: File;
    let uri: string;
    const metadata = { contentType: opts.contentType ?? 'application/octet-stream', ...(storageClass ? { storageClass } : {}) };
    const validation = (this.options.validation ?? 'crc32c') as 'crc32c' | 'md5';
    let first: Buffer | null;
    try {
      first = await firstChunk(body, signal);
      const bucket = await this.bucket(op);
      file = bucket.file(joinKey(this.prefix, key));
      if (first === null) {
        // An empty body: one simple upload. (The SDK's chunked mode would send the malformed
        // `Content-Range: bytes 0--1/0` for it.)
        if (opts.sha256 !== undefined && opts.sha256 !== EMPTY_SHA256) throw new StorageChecksumMismatchError(key, this.url, opts.sha256, EMPTY_SHA256);
        await file.save(Buffer.alloc(0), { resumable: false, metadata, validation });
        opts.onProgress?.(0);
        return this.info(key, file.metadata);
      }
      [uri] = await file.createResumableUpload({ metadata });
    } catch (err) {
      body.destroy();
      if (signal?.aborted) throw new StorageAbortedError(op, err);
      if (body.errored && err === body.errored) throw err;
      throw this.fail(op, err, signal);
    }
    const head = first;
    const source = Readable.from(
      (async function* () {
        yield head;
        yield* body;
      })(),
      { objectMode: false },
    );
    const tap = new BodyTap(key, this.url, opts.sha256, opts.onProgress);
    const sink = file.createWriteStream({
      uri,
      resumable: true,
      chunkSize: this.chunkSize,
      validation,
      metadata,
    });
    try {
      if (signal?.aborted) throw new StorageAbortedError(op, signal.reason);
      await pipeline(source, tap, sink, ...(signal ? [{ signal }] : []));
    } catch (err) {
      await this.cancelSession(uri);
      if (signal?.aborted) throw new StorageAbortedError(op, err);
      // The caller's body failed: keep its error (and code) as it is.
      if (body.errored && err === body.errored) throw err;
      throw this.fail(op, err, signal);
    }
    return this.info(key, file.metadata);
  }

  /** Cancel a resumable session (GCS answers 499); a finalized session is unaffected. */
  private async cancelSession(uri: string): Promise<void> {
    try {
      await fetch(uri, { method: 'DELETE', headers: { 'Content-Length': '0' } });
    } catch {
      // Unreachable: the session expires by itself after a week and holds no object.
    }
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    validateKey(key);
    const op = `get ${key} from ${this.url}`;
    const bucket = await this.bucket(op).catch((err) => Promise.reject(this.fail(op, err)));
    let generation: string | number | undefined;
    try {
      const [md] = await bucket.file(joinKey(this.prefix, key)).getMetadata();
      generation = md.generation;
    } catch (err) {
      if (failureOf(err).status === 404 && !failureOf(err).bucketMissing) throw new StorageNotFoundError(key, this.url);
      throw this.fail(op, err);
    }
    // Pin the generation: a concurrent replace cannot splice two versions into one read.
    const file = bucket.file(joinKey(this.prefix, key), generation !== undefined ? { generation: Number(generation) } : {});
    const stream = file.createReadStream({ validation: (this.options.validation ?? 'crc32c') as 'crc32c' | 'md5' });
    if (opts.signal) addAbortSignal(opts.signal, stream);
    return stream;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    const op = `head ${key} in ${this.url}`;
    const bucket = await this.bucket(op).catch((err) => Promise.reject(this.fail(op, err)));
    try {
      const [md] = await bucket.file(joinKey(this.prefix, key)).getMetadata();
      return this.info(key, md);
    } catch (err) {
      const f = failureOf(err);
      if (f.status === 404 && !f.bucketMissing) return null;
      throw this.fail(op, err);
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    validatePrefix(prefix);
    const op = `list ${prefix || '(all)'} in ${this.url}`;
    const bucket = await this.bucket(op).catch((err) => Promise.reject(this.fail(op, err)));
    const limit = Math.max(1, Math.min(opts.limit ?? 1000, 1000));
    const full = this.prefix === '' ? prefix : `${this.prefix}/${prefix}`;
    try {
      const [files, next] = await bucket.getFiles({
        prefix: full,
        autoPaginate: false,
        maxResults: limit,
        ...(opts.cursor !== undefined ? { pageToken: opts.cursor } : {}),
      });
      const items = files.map((f) => this.info(stripPrefix(this.prefix, f.name), f.metadata));
      const token = (next as { pageToken?: string } | null | undefined)?.pageToken;
      return token ? { items, cursor: token } : { items };
    } catch (err) {
      if (opts.cursor !== undefined && failureOf(err).status === 400) throw new StorageInvalidCursorError();
      throw this.fail(op, err);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const op = `delete ${key} from ${this.url}`;
    const bucket = await this.bucket(op).catch((err) => Promise.reject(this.fail(op, err)));
    try {
      await bucket.file(joinKey(this.prefix, key)).delete({ ignoreNotFound: true });
    } catch (err) {
      throw this.fail(op, err);
    }
  }

  /** GCS keeps no listable partial uploads (an unfinished resumable session is no object). */
  async cleanupIncomplete(prefix: string, _olderThanMs = 0): Promise<number> {
    validatePrefix(prefix);
    return 0;
  }
}
