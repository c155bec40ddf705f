import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Transform, addAbortSignal } from 'node:stream';
import type { Readable } from 'node:stream';
import type { S3Client, S3ClientConfig, ServerSideEncryption, StorageClass } from '@aws-sdk/client-s3';
import type { ListPage, ObjectInfo, PutOptions, StorageCapabilities, StorageDriver } from './driver.js';
import {
  StorageAbortedError,
  StorageAccessDeniedError,
  StorageAuthFailedError,
  StorageBucketNotFoundError,
  StorageChecksumMismatchError,
  StorageError,
  StorageInvalidOptionsError,
  StorageInvalidUrlError,
  StorageNotFoundError,
  StorageRejectedError,
  StorageUnavailableError,
} from './errors.js';
import { decodeKeyCursor, encodeKeyCursor, validateKey, validatePrefix } from './keys.js';
import { checkSha256Option, parseDriverOptions, type ParsedOptions } from './options.js';
import { redactUrl } from './registry.js';

/** Storage classes S3 (and most S3-compatible servers) accept in `x-amz-storage-class`. */
export const S3_STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'GLACIER_IR',
  'DEEP_ARCHIVE',
] as const;

const MiB = 1 << 20;

/** Options of `s3://` targets (URL query or `targets[].options`); see docs/storage-s3.md. */
export const S3_OPTIONS = {
  region: { type: 'string' },
  endpoint: { type: 'string' },
  forcePathStyle: { type: 'boolean' },
  storageClass: { type: 'enum', values: S3_STORAGE_CLASSES },
  sse: { type: 'enum', values: ['AES256', 'aws:kms'] },
  sseKmsKeyId: { type: 'string' },
  credentialsFile: { type: 'string' },
  profile: { type: 'string' },
  partSize: { type: 'bytes', min: 5 * MiB, max: 5 * 1024 * MiB },
  queueSize: { type: 'integer', min: 1, max: 64 },
  maxAttempts: { type: 'integer', min: 1, max: 20 },
  timeoutMs: { type: 'integer', min: 100, max: 3_600_000 },
  contentMd5: { type: 'boolean' },
} as const;

type S3Options = ParsedOptions<typeof S3_OPTIONS>;

const DEFAULT_PART_SIZE = 8 * MiB;
const DEFAULT_QUEUE_SIZE = 4;
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_TIMEOUT_MS = 120_000;
const MAX_LIST_LIMIT = 1000;
const CURSOR_VERSION = 's3:';

/** Error names (S3 `Code`s and Node/SDK network errors) by what they mean to the caller. */
const BUCKET_MISSING = new Set(['NoSuchBucket']);
const ACCESS_DENIED = new Set(['AccessDenied', 'AllAccessDisabled', 'AccountProblem', 'Forbidden', '403']);
const AUTH_FAILED = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'InvalidSecurity',
]);
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', '404']);
/** The server saw a body that did not match its checksum: corrupted in transit, worth resending. */
const DIGEST_REJECTED = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch', 'MfbPartEtagMismatch']);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/**
 * Map an SDK failure to a storage error whose message names the operation and the target
 * (redacted URL) and no more: the SDK error stays in `cause`.
 */
function mapS3Error(operation: string, safeUrl: string, err: unknown, key?: string): Error {
  if (err instanceof StorageError) return err;
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (BUCKET_MISSING.has(name)) return new StorageBucketNotFoundError(operation, safeUrl, err);
  if (name === 'InvalidObjectState') {
    return new StorageRejectedError(operation, safeUrl, 'InvalidObjectState: an archived (GLACIER / DEEP_ARCHIVE) object must be restored first', err);
  }
  if (AUTH_FAILED.has(name)) return new StorageAuthFailedError(operation, safeUrl, err);
  if (ACCESS_DENIED.has(name) || status === 403) return new StorageAccessDeniedError(operation, safeUrl, err);
  if (key !== undefined && (NOT_FOUND.has(name) || status === 404)) return new StorageNotFoundError(key, safeUrl);
  const code = e.code ?? name;
  if (
    status === undefined ||
    status >= 500 ||
    status === 429 ||
    status === 408 ||
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    /^(SlowDown|Throttl|RequestTimeout|ServiceUnavailable|InternalError)/.test(name) ||
    DIGEST_REJECTED.has(name)
  ) {
    return new StorageUnavailableError(operation, safeUrl, status ? `${name || 'HTTP'} ${status}` : code || 'network error', err);
  }
  return new StorageRejectedError(operation, safeUrl, `${name || 'HTTP'} ${status}`, err);
}

/** Read `[profile]` (or `[profile name]`) of an AWS shared credentials file. */
function readCredentialsFile(file: string, profile: string, safeUrl: string): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new StorageAuthFailedError(`read credentialsFile ${file}`, safeUrl, err);
  }
  const values: Record<string, string> = {};
  let inProfile = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const section = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      inProfile = section[1] === profile;
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (inProfile && kv) values[kv[1]!.toLowerCase()] = kv[2]!;
  }
  const accessKeyId = values['aws_access_key_id'];
  const secretAccessKey = values['aws_secret_access_key'];
  if (!accessKeyId || !secretAccessKey) {
    throw new StorageAuthFailedError(`read credentialsFile ${file}`, safeUrl, new Error(`profile ${profile} has no aws_access_key_id / aws_secret_access_key`));
  }
  const sessionToken = values['aws_session_token'];
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

type Sdk = typeof import('@aws-sdk/client-s3');
type LibStorage = typeof import('@aws-sdk/lib-storage');

/**
 * Objects in an S3 bucket (AWS or compatible: MinIO, Ceph radosgw, R2, Wasabi) under a key
 * prefix: `s3://bucket/prefix?region=...&endpoint=...`.
 *
 * - `put` streams through `@aws-sdk/lib-storage`'s `Upload`: a single PutObject below
 *   `partSize`, else a multipart upload with at most `queueSize` parts in flight, so memory
 *   stays near `(queueSize + 1) * partSize` whatever the artifact's size. The object appears
 *   only at CompleteMultipartUpload; a failure or abort sends AbortMultipartUpload.
 * - Every PutObject / UploadPart is signed with the SHA-256 of its body (SigV4
 *   `x-amz-content-sha256`); the server rejects a body damaged in transit
 *   (XAmzContentSHA256Mismatch) and the SDK resends it. With option `contentMd5` (for servers
 *   that do not check signed payloads, e.g. s3rver) parts also carry Content-MD5 and the ETag
 *   the server answers must be that MD5 (not checked with SSE-KMS, whose ETags are not MD5s).
 *   `PutOptions.sha256` is checked over the bytes read before the upload can complete.
 * - The AWS SDK is imported on first use, so opening the driver (at boot) costs nothing.
 */
export class S3StorageDriver implements StorageDriver {
  readonly url: string;
  readonly capabilities: StorageCapabilities = { storageClasses: S3_STORAGE_CLASSES };
  readonly bucket: string;
  /** Key prefix inside the bucket: `''` or ending with `/`. */
  readonly root: string;
  private readonly opts: S3Options;
  private sdk?: Promise<{ sdk: Sdk; lib: LibStorage; client: S3Client }>;
  private bucketChecked = false;

  private constructor(url: string, bucket: string, root: string, opts: S3Options) {
    this.url = url;
    this.bucket = bucket;
    this.root = root;
    this.opts = opts;
  }

  /**
   * Parse `s3://bucket[/prefix][?option=value...]` and validate the options (query and
   * `opts.options`). Throws STORAGE_INVALID_URL / STORAGE_INVALID_OPTIONS; never touches the
   * network.
   */
  static fromUrl(url: string, opts: { options?: Readonly<Record<string, unknown>> } = {}): S3StorageDriver {
    const safe = redactUrl(url);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new StorageInvalidUrlError(safe, 'expected s3://bucket/prefix');
    }
    if (u.protocol.toLowerCase() !== 's3:') throw new StorageInvalidUrlError(safe, 'expected s3://bucket/prefix');
    if (u.username || u.password) {
      throw new StorageInvalidUrlError(safe, 'credentials do not belong in the URL: use the AWS credential chain (env, ~/.aws, instance role) or option credentialsFile');
    }
    if (u.hash) throw new StorageInvalidUrlError(safe, 'a fragment is not supported');
    const bucket = u.hostname;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{1,254}$/.test(bucket) || u.port) {
      throw new StorageInvalidUrlError(safe, `bad bucket name ${JSON.stringify(u.host)}`);
    }
    let prefix: string;
    try {
      prefix = decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
    } catch {
      throw new StorageInvalidUrlError(safe, 'bad percent-encoding in the prefix');
    }
    if (prefix !== '') {
      try {
        validateKey(prefix);
      } catch (err) {
        throw new StorageInvalidUrlError(safe, `bad prefix: ${(err as Error).message}`);
      }
    }
    const safeBase = `s3://${bucket}${prefix ? '/' + prefix : ''}`;
    const parsed = parseDriverOptions(safeBase, S3_OPTIONS, u.searchParams, opts.options);
    if (parsed.endpoint !== undefined) {
      let e: URL | undefined;
      try {
        e = new URL(parsed.endpoint);
      } catch {
        e = undefined;
      }
      if (!e || !/^https?:$/.test(e.protocol) || e.username || e.password) {
        throw new StorageInvalidOptionsError(safeBase, 'option "endpoint" must be an http:// or https:// URL without credentials', { option: 'endpoint' });
      }
    }
    if (parsed.sseKmsKeyId !== undefined && parsed.sse !== 'aws:kms') {
      throw new StorageInvalidOptionsError(safeBase, 'option "sseKmsKeyId" needs sse: aws:kms', { option: 'sseKmsKeyId' });
    }
    if (parsed.profile !== undefined && parsed.credentialsFile === undefined) {
      throw new StorageInvalidOptionsError(safeBase, 'option "profile" needs option "credentialsFile"', { option: 'profile' });
    }
    if (parsed.credentialsFile !== undefined) {
      let isFile: boolean;
      try {
        isFile = statSync(parsed.credentialsFile).isFile();
      } catch {
        isFile = false;
      }
      if (!isFile) {
        throw new StorageInvalidOptionsError(safeBase, `option "credentialsFile": ${parsed.credentialsFile} is not a readable file`, { option: 'credentialsFile' });
      }
    }
    return new S3StorageDriver(safe, bucket, prefix ? prefix + '/' : '', parsed);
  }

  /** The SDK client, created (and the SDK imported) on first use. */
  private load(): Promise<{ sdk: Sdk; lib: LibStorage; client: S3Client }> {
    this.sdk ??= (async () => {
      const [sdk, lib] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]);
      const o = this.opts;
      const timeout = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const config: S3ClientConfig = {
        region: o.region ?? 'us-east-1',
        followRegionRedirects: true,
        forcePathStyle: o.forcePathStyle ?? o.endpoint !== undefined,
        maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        // Part bodies are Buffers, so SigV4 signs their SHA-256 (x-amz-content-sha256), which
        // S3, MinIO, Ceph and R2 verify: that is the per-part integrity check, at no extra
        // cost. The newer flexible checksums (CRC32 trailers) are not understood by radosgw
        // <= 18 or s3rver, so they are off; Content-MD5 is opt-in (below).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { connectionTimeout: Math.min(timeout, 10_000), requestTimeout: timeout },
        ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
      };
      if (o.credentialsFile !== undefined) {
        const file = o.credentialsFile;
        const profile = o.profile ?? 'default';
        config.credentials = async () => readCredentialsFile(file, profile, this.url);
      }
      const client = new sdk.S3Client(config);
      addIntegrityMiddleware(client, o.contentMd5 === true, o.sse === 'aws:kms');
      return { sdk, lib, client };
    })();
    return this.sdk;
  }

  private fullKey(key: string): string {
    return this.root + key;
  }

  /** Tell "no such bucket" from "no such key" where S3 cannot (HEAD has no error body). */
  private async checkBucket(op: string): Promise<void> {
    if (this.bucketChecked) return;
    const { sdk, client } = await this.load();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketChecked = true;
    } catch (err) {
      const e = err as SdkError;
      if (e.$metadata?.httpStatusCode === 404) throw new StorageBucketNotFoundError(op, this.url, err);
      throw mapS3Error(op, this.url, err);
    }
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    checkSha256Option(opts.sha256);
    const op = `put ${key} to ${this.url}`;
    const { signal, onProgress, sha256 } = opts;
    if (signal?.aborted) {
      body.destroy();
      throw new StorageAbortedError(op, signal.reason);
    }
    const storageClass = opts.storageClass ?? this.opts.storageClass;
    if (storageClass !== undefined && !(S3_STORAGE_CLASSES as readonly string[]).includes(storageClass)) {
      body.destroy();
      throw new StorageInvalidOptionsError(this.url, `storage class ${JSON.stringify(storageClass)} is not one of ${S3_STORAGE_CLASSES.join(', ')}`);
    }

    // Hash and count what is read; a wrong SHA-256 fails the stream *before* it ends, so the
    // uploader never sees the end of the body and never completes the upload.
    const hash = createHash('sha256');
    let size = 0;
    let mismatch: StorageChecksumMismatchError | undefined;
    const meter = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
      flush: (cb) => {
        const actual = hash.digest('hex');
        if (sha256 !== undefined && actual !== sha256) {
          mismatch = new StorageChecksumMismatchError(key, this.url, sha256, actual);
          cb(mismatch);
        } else cb();
      },
    });
    body.on('error', (err) => meter.destroy(err));
    body.pipe(meter);

    const onAbort = (): void => {
      meter.destroy(new StorageAbortedError(op, signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let upload: InstanceType<LibStorage['Upload']> | undefined;
    try {
      const { lib, client } = await this.load();
      upload = new lib.Upload({
        client,
        partSize: this.opts.partSize ?? DEFAULT_PART_SIZE,
        queueSize: this.opts.queueSize ?? DEFAULT_QUEUE_SIZE,
        leavePartsOnError: false,
        params: {
          Bucket: this.bucket,
          Key: this.fullKey(key),
          Body: meter,
          ContentType: opts.contentType ?? 'application/octet-stream',
          ...(storageClass !== undefined ? { StorageClass: storageClass as StorageClass } : {}),
          ...(this.opts.sse !== undefined ? { ServerSideEncryption: this.opts.sse as ServerSideEncryption } : {}),
          ...(this.opts.sseKmsKeyId !== undefined ? { SSEKMSKeyId: this.opts.sseKmsKeyId } : {}),
        },
      });
      let reported = -1;
      upload.on('httpUploadProgress', (p) => {
        if (onProgress && p.loaded !== undefined && p.loaded > reported) {
          reported = p.loaded;
          onProgress(p.loaded);
        }
      });
      await upload.done();
      if (onProgress && reported < size) onProgress(size);
      return { key, size, lastModified: new Date(), storageClass: storageClass ?? 'STANDARD' };
    } catch (err) {
      if (!body.destroyed) body.destroy();
      if (!meter.destroyed) meter.destroy();
      await this.abandon(upload, key);
      if (signal?.aborted) throw new StorageAbortedError(op, signal.reason);
      if (mismatch) throw mismatch;
      // The caller's body failed: its own error (and code) is what the caller needs.
      const bodyError = (meter as { errored?: Error | null }).errored;
      if (bodyError && err === bodyError) throw err;
      throw mapS3Error(op, this.url, err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Make sure a failed upload leaves no open multipart upload. `Upload` already aborts it;
   * this repeats the abort (idempotent) in case that request itself failed, e.g. on a reset.
   */
  private async abandon(upload: unknown, key: string): Promise<void> {
    const uploadId = (upload as { uploadId?: string } | undefined)?.uploadId;
    if (!uploadId) return;
    const { sdk, client } = await this.load();
    try {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.fullKey(key), UploadId: uploadId }));
    } catch (err) {
      if ((err as SdkError).name === 'NoSuchUpload') return;
      // Still open: cleanupIncomplete() (run before each backup of the database) removes it.
    }
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    validateKey(key);
    const op = `get ${key} from ${this.url}`;
    if (opts.signal?.aborted) throw new StorageAbortedError(op, opts.signal.reason);
    const { sdk, client } = await this.load();
    try {
      const res = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }),
        opts.signal ? { abortSignal: opts.signal } : {},
      );
      const stream = res.Body as Readable;
      if (opts.signal) addAbortSignal(opts.signal, stream);
      return stream;
    } catch (err) {
      if (opts.signal?.aborted) throw new StorageAbortedError(op, opts.signal.reason);
      throw mapS3Error(op, this.url, err, key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    const op = `head ${key} in ${this.url}`;
    const { sdk, client } = await this.load();
    try {
      const res = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return {
        key,
        size: res.ContentLength ?? 0,
        lastModified: res.LastModified ?? new Date(0),
        storageClass: res.StorageClass ?? 'STANDARD',
      };
    } catch (err) {
      const mapped = mapS3Error(op, this.url, err, key);
      if (mapped instanceof StorageNotFoundError) {
        await this.checkBucket(op);
        return null;
      }
      throw mapped;
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    validatePrefix(prefix);
    const limit = Math.max(1, Math.min(MAX_LIST_LIMIT, Math.floor(opts.limit ?? MAX_LIST_LIMIT)));
    const after = opts.cursor ? decodeKeyCursor(CURSOR_VERSION, opts.cursor) : undefined;
    const { sdk, client } = await this.load();
    try {
      // StartAfter (not a continuation token) keeps a cursor valid across deletions and
      // processes: it is just the last key returned.
      const res = await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.fullKey(prefix),
          MaxKeys: limit,
          ...(after !== undefined ? { StartAfter: this.fullKey(after) } : {}),
        }),
      );
      const items: ObjectInfo[] = (res.Contents ?? []).map((o) => ({
        key: (o.Key ?? '').slice(this.root.length),
        size: o.Size ?? 0,
        lastModified: o.LastModified ?? new Date(0),
        storageClass: o.StorageClass ?? 'STANDARD',
      }));
      const last = items[items.length - 1];
      return res.IsTruncated && last ? { items, cursor: encodeKeyCursor(CURSOR_VERSION, last.key) } : { items };
    } catch (err) {
      throw mapS3Error(`list ${prefix} in ${this.url}`, this.url, err);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const { sdk, client } = await this.load();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (err) {
      const mapped = mapS3Error(`delete ${key} from ${this.url}`, this.url, err, key);
      if (mapped instanceof StorageNotFoundError) return;
      throw mapped;
    }
  }

  /** Abort multipart uploads under `prefix` started more than `olderThanMs` ago. */
  async cleanupIncomplete(prefix: string, olderThanMs = 0): Promise<number> {
    validatePrefix(prefix);
    const op = `cleanup ${prefix} in ${this.url}`;
    const cutoff = Date.now() - olderThanMs;
    const { sdk, client } = await this.load();
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (;;) {
        const res = await client.send(
          new sdk.ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.fullKey(prefix),
            ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        );
        for (const u of res.Uploads ?? []) {
          if (!u.Key || !u.UploadId) continue;
          if (olderThanMs > 0 && (u.Initiated?.getTime() ?? 0) > cutoff) continue;
          try {
            await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }));
            removed++;
          } catch (err) {
            if ((err as SdkError).name !== 'NoSuchUpload') throw err;
          }
        }
        if (!res.IsTruncated) return removed;
        keyMarker = res.NextKeyMarker;
        uploadIdMarker = res.NextUploadIdMarker;
      }
    } catch (err) {
      throw mapS3Error(op, this.url, err);
    }
  }

  /** The SDK client (created on first use), for tests and tools that need raw S3 calls. */
  async client(): Promise<S3Client> {
    return (await this.load()).client;
  }
}

/**
 * Per-request body integrity for PutObject and UploadPart:
 * - a body the server found damaged (signed SHA-256 or Content-MD5 mismatch) is marked
 *   retryable, so the SDK resends the part (the body is a Buffer) instead of failing;
 * - with `md5`: Content-MD5 of the body, and the ETag the server answers must be that MD5
 *   (S3 ETags of parts and single PUTs are the MD5 of what was stored, except with SSE-KMS /
 *   SSE-C), catching servers that check neither the signed payload hash nor Content-MD5.
 */
function addIntegrityMiddleware(client: S3Client, md5: boolean, kms: boolean): void {
  const withBody = new Set(['PutObjectCommand', 'UploadPartCommand']);
  if (md5) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Body?: unknown; ContentMD5?: string };
        if (withBody.has(context.commandName ?? '') && input.Body instanceof Uint8Array && input.ContentMD5 === undefined) {
          input.ContentMD5 = createHash('md5').update(input.Body).digest('base64');
        }
        return next(args);
      },
      { step: 'initialize', name: 'mfbContentMd5' },
    );
  }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!withBody.has(context.commandName ?? '')) return next(args);
      try {
        const result = await next(args);
        const out = result.output as { ETag?: string; ServerSideEncryption?: string; SSECustomerAlgorithm?: string };
        const md5 = (args.input as { ContentMD5?: string }).ContentMD5;
        const etag = out.ETag?.replace(/"/g, '').toLowerCase();
        const encrypted = kms || out.SSECustomerAlgorithm !== undefined || (out.ServerSideEncryption ?? '').startsWith('aws:kms');
        if (md5 && etag && /^[0-9a-f]{32}$/.test(etag) && !encrypted && etag !== Buffer.from(md5, 'base64').toString('hex')) {
          throw Object.assign(new Error('the server stored something else than was sent (ETag is not the MD5 of the body)'), {
            name: 'MfbPartEtagMismatch',
            $retryable: {},
          });
        }
        return result;
      } catch (err) {
        const e = err as SdkError;
        if (e && typeof e === 'object' && DIGEST_REJECTED.has(e.name ?? '')) e.$retryable ??= {};
        throw err;
      }
    },
    // Inside the retry middleware (finalizeRequest step), around the deserializer.
    { step: 'deserialize', name: 'mfbVerifyEtag', priority: 'high' },
  );
}
