/**
 * `azblob://account/container/prefix`: Azure Blob Storage block blobs through
 * @azure/storage-blob (and @azure/identity for the default credential chain), loaded on first use.
 *
 * A put reads the body in `blockSize` blocks, stages up to `concurrency` of them at a time,
 * each with its transactional MD5 (the service rejects a block whose bytes do not match; the
 * SDK retries it), and commits the block list only after the whole body was read and its
 * SHA-256 matched `PutOptions.sha256`. Until the commit nothing is visible: a failed or aborted
 * put leaves only uncommitted blocks, which the service discards (after at most 7 days, or at
 * the next commit of that blob). Memory: at most (concurrency + 1) blocks per put. A body no
 * larger than one block is sent as a single Put Blob (also with its MD5).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { addAbortSignal } from 'node:stream';
import type { BlobServiceClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { BodyTap, beginPut, joinKey, mapCloudError, parseCloudUrl, stripPrefix, type ProviderFailure } from './cloud-common.js';
import type { ListPage, ObjectInfo, PutOptions, StorageCapabilities, StorageDriver } from './driver.js';
import {
  StorageAbortedError,
  StorageAuthFailedError,
  StorageInvalidCursorError,
  StorageInvalidOptionsError,
  StorageNotFoundError,
  StorageRejectedError,
  StorageUnavailableError,
} from './errors.js';
import { validateKey, validatePrefix } from './keys.js';
import { parseDriverOptions, type ParsedOptions } from './options.js';
import type { OpenStorageOptions } from './registry.js';
import { redactUrl } from './registry.js';

export const AZURE_ACCESS_TIERS = ['Hot', 'Cool', 'Cold', 'Archive'] as const;
type AccessTier = (typeof AZURE_ACCESS_TIERS)[number];

const AZ_OPTIONS = {
  /** Access tier of new blobs (default: the account's default tier, usually Hot). */
  accessTier: { type: 'enum', values: AZURE_ACCESS_TIERS },
  /** Alias of accessTier, so config can say `storageClass` for every provider. */
  storageClass: { type: 'enum', values: AZURE_ACCESS_TIERS },
  /** File with a connection string, or JSON {connectionString} / {accountKey} / {sasToken}. */
  credentialsFile: { type: 'string' },
  /** Blob service URL, e.g. Azurite `http://127.0.0.1:10000/devstoreaccount1`. */
  endpoint: { type: 'string' },
  /** Bytes per staged block (memory per block in flight). */
  blockSize: { type: 'bytes', min: 64 * 1024, max: 4000 * 1024 * 1024 },
  /** Blocks staged in parallel per put. */
  concurrency: { type: 'integer', min: 1, max: 64 },
} as const;

type AzOptions = ParsedOptions<typeof AZ_OPTIONS>;

interface AzError {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
  message?: string;
  name?: string;
}

function failureOf(err: unknown): ProviderFailure {
  const e = (err ?? {}) as AzError;
  const code = e.details?.errorCode ?? e.code;
  const msg = typeof e.message === 'string' ? e.message : '';
  return {
    ...(e.statusCode !== undefined ? { status: e.statusCode } : {}),
    ...(code !== undefined ? { code } : {}),
    bucketMissing: code === 'ContainerNotFound',
    // Azure: Md5Mismatch / Crc64Mismatch; Azurite answers a bad Content-MD5 with InvalidOperation.
    integrity: code === 'Md5Mismatch' || code === 'Crc64Mismatch' || (code === 'InvalidOperation' && /md5/i.test(msg)),
    authFailed:
      code === 'AuthenticationFailed' ||
      code === 'InvalidAuthenticationInfo' ||
      // Azurite's code for a bad signature (Azure says AuthenticationFailed); a HEAD has no
      // body, so only the code is known there.
      (code === 'AuthorizationFailure' && (msg === '' || /failed to authenticate/i.test(msg))) ||
      e.name === 'CredentialUnavailableError' ||
      e.name === 'AuthenticationError' ||
      e.name === 'AggregateAuthenticationError',
  };
}

function isNotFound(err: unknown): boolean {
  const f = failureOf(err);
  return f.status === 404 && !f.bucketMissing;
}

/** Block ids of one put: the same length for every block (a service rule), unique per put. */
function blockId(putId: string, i: number): string {
  return Buffer.from(`${putId}-${String(i).padStart(6, '0')}`).toString('base64');
}

export class AzureBlobStorageDriver implements StorageDriver {
  readonly url: string;
  readonly capabilities: StorageCapabilities = { storageClasses: AZURE_ACCESS_TIERS };
  private clientP: Promise<ContainerClient> | undefined;
  private readonly blockSize: number;
  private readonly concurrency: number;
  private readonly tier: AccessTier | undefined;

  private constructor(
    url: string,
    readonly account: string,
    readonly container: string,
    readonly prefix: string,
    private readonly options: AzOptions,
  ) {
    this.url = url;
    this.blockSize = options.blockSize ?? 8 * 1024 * 1024;
    this.concurrency = options.concurrency ?? 4;
    this.tier = (options.accessTier ?? options.storageClass) as AccessTier | undefined;
  }

  static fromUrl(url: string, opts: OpenStorageOptions = {}): AzureBlobStorageDriver {
    const safe = redactUrl(url);
    const loc = parseCloudUrl(url, safe, 'azblob', 2, (name, i) => {
      if (i === 0) return /^[a-z0-9]{3,24}$/.test(name) ? undefined : 'is not a valid storage account name (3-24 of a-z 0-9)';
      return /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(name) ? undefined : 'is not a valid container name (3-63 of a-z 0-9 -)';
    });
    const options = parseDriverOptions(safe, AZ_OPTIONS, loc.query, opts.options);
    if (options.accessTier !== undefined && options.storageClass !== undefined) {
      throw new StorageInvalidOptionsError(safe, 'give either "accessTier" or "storageClass", not both', { option: 'storageClass' });
    }
    if (options.endpoint !== undefined && !/^https?:\/\/[^?#@]+$/.test(options.endpoint)) {
      throw new StorageInvalidOptionsError(safe, 'option "endpoint" must be an http(s) URL such as http://127.0.0.1:10000/devstoreaccount1', { option: 'endpoint' });
    }
    return new AzureBlobStorageDriver(safe, loc.names[0]!, loc.names[1]!, loc.prefix, options);
  }

  /** The container client; the SDK (and the identity library, if needed) is imported on first use. */
  private containerClient(op: string): Promise<ContainerClient> {
    this.clientP ??= (async () => {
      const sdk = await import('@azure/storage-blob');
      const endpoint = (this.options.endpoint ?? `https://${this.account}.blob.core.windows.net`).replace(/\/$/, '');
      const pipelineOpts = { retryOptions: { maxTries: 4 } };
      let service: BlobServiceClient;
      if (this.options.credentialsFile) {
        const file = this.options.credentialsFile;
        let text: string;
        try {
          text = (await readFile(file, 'utf8')).trim();
        } catch (err) {
          throw new StorageAuthFailedError(`${op}: cannot read credentialsFile ${file}`, this.url, err);
        }
        let creds: { connectionString?: string; accountKey?: string; sasToken?: string } = {};
        if (text.startsWith('{')) {
          try {
            creds = JSON.parse(text) as typeof creds;
          } catch (err) {
            throw new StorageAuthFailedError(`${op}: credentialsFile ${file} is not valid JSON`, this.url, err);
          }
        } else {
          creds = { connectionString: text };
        }
        try {
          if (creds.connectionString) {
            service = sdk.BlobServiceClient.fromConnectionString(creds.connectionString, pipelineOpts);
            if (service.accountName && service.accountName !== this.account) {
              throw new StorageInvalidOptionsError(this.url, `the connection string in ${file} is for account ${service.accountName}, not ${this.account}`);
            }
          } else if (creds.accountKey) {
            service = new sdk.BlobServiceClient(endpoint, new sdk.StorageSharedKeyCredential(this.account, creds.accountKey), pipelineOpts);
          } else if (creds.sasToken) {
            service = new sdk.BlobServiceClient(`${endpoint}?${creds.sasToken.replace(/^\?/, '')}`, undefined, pipelineOpts);
          } else {
            throw new Error('expected a connection string, or JSON with connectionString, accountKey or sasToken');
          }
        } catch (err) {
          if (err instanceof StorageInvalidOptionsError) throw err;
          // The SDK's message may quote the key: keep it only as the cause.
          throw new StorageAuthFailedError(`${op}: credentialsFile ${file} holds no usable credentials`, this.url, err);
        }
      } else {
        const { DefaultAzureCredential } = await import('@azure/identity');
        service = new sdk.BlobServiceClient(endpoint, new DefaultAzureCredential(), pipelineOpts);
      }
      return service.getContainerClient(this.container);
    })();
    this.clientP.catch(() => (this.clientP = undefined));
    return this.clientP;
  }

  private fail(op: string, err: unknown, signal?: AbortSignal): Error {
    return mapCloudError(op, this.url, err, failureOf(err), signal);
  }

  private blob(c: ContainerClient, key: string): BlockBlobClient {
    return c.getBlockBlobClient(joinKey(this.prefix, key));
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<ObjectInfo> {
    const { op, storageClass: tier } = beginPut(key, body, opts, this.url, AZURE_ACCESS_TIERS, this.tier);
    const { signal } = opts;
    let blob: BlockBlobClient;
    try {
      blob = this.blob(await this.containerClient(op), key);
    } catch (err) {
      body.destroy();
      throw this.fail(op, err, signal);
    }
    const tap = new BodyTap(key, this.url, opts.sha256, opts.onProgress);
    const source = body.pipe(tap);
    body.once('error', (err) => tap.destroy(err));
    const ac = new AbortController();
    const onAbort = (): void => {
      ac.abort(signal?.reason);
      // Ends a read that waits on a stalled body.
      tap.destroy(new StorageAbortedError(op, signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const headers = { blobContentType: opts.contentType ?? 'application/octet-stream' };
    const metadata = opts.sha256 ? { sha256: opts.sha256 } : undefined;
    try {
      const ids: string[] = [];
      const putId = randomBytes(8).toString('hex');
      const inflight = new Set<Promise<void>>();
      let failed: unknown;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const stage = (buf: Buffer): void => {
        const id = blockId(putId, ids.length);
        ids.push(id);
        const md5 = createHash('md5').update(buf).digest();
        const p = blob
          .stageBlock(id, buf, buf.length, { transactionalContentMD5: md5, abortSignal: ac.signal })
          .then(() => undefined)
          .catch((err: unknown) => {
            failed ??= err;
            ac.abort();
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      };
      const abortWait = new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
      let single: Buffer | undefined;
      for await (const chunk of source) {
        if (ac.signal.aborted) break;
        const c = chunk as Buffer;
        pending.push(c);
        pendingBytes += c.length;
        while (pendingBytes >= this.blockSize && !ac.signal.aborted) {
          // The next block was read while `concurrency` blocks were in flight; wait for a slot.
          while (inflight.size >= this.concurrency && !ac.signal.aborted) await Promise.race([...inflight, abortWait]);
          if (ac.signal.aborted) break;
          const all = Buffer.concat(pending, pendingBytes);
          stage(all.subarray(0, this.blockSize));
          pending = all.length > this.blockSize ? [all.subarray(this.blockSize)] : [];
          pendingBytes = all.length - this.blockSize;
        }
      }
      if (!ac.signal.aborted) {
        if (ids.length === 0) single = Buffer.concat(pending);
        else if (pendingBytes > 0) stage(Buffer.concat(pending));
      }
      pending = [];
      await Promise.all(inflight);
      if (failed !== undefined) throw failed;
      if (signal?.aborted || ac.signal.aborted) throw new StorageAbortedError(op, signal?.reason);
      // The body has ended and BodyTap has checked its SHA-256 (it errors the loop otherwise).
      const common = { blobHTTPHeaders: headers, ...(metadata ? { metadata } : {}), ...(tier ? { tier: tier as AccessTier } : {}), abortSignal: ac.signal };
      if (single !== undefined) {
        // `transactionalContentMD5` is honoured by upload() (sent as Content-MD5) although
        // BlockBlobUploadOptions does not declare it in 12.32's types.
        const md5 = createHash('md5').update(single).digest();
        await blob.upload(single, single.length, { ...common, transactionalContentMD5: md5 } as typeof common);
      } else {
        await blob.commitBlockList(ids, common).catch((err: unknown) => {
          // Another put of this blob committed first, and the service dropped our uncommitted
          // blocks with its commit: nothing of ours is stored; retrying the put rewrites it.
          if (failureOf(err).code === 'InvalidBlockList') {
            throw new StorageUnavailableError(op, this.url, 'another writer committed this blob at the same time; retry', err);
          }
          throw err;
        });
      }
    } catch (err) {
      ac.abort();
      body.destroy();
      if (signal?.aborted) throw new StorageAbortedError(op, err);
      if (body.errored && err === body.errored) throw err;
      throw this.fail(op, err, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    try {
      const props = await blob.getProperties();
      return this.info(key, props.contentLength ?? tap.bytes, props.lastModified, props.accessTier);
    } catch (err) {
      throw this.fail(op, err);
    }
  }

  private info(key: string, size: number, lastModified: Date | undefined, tier: string | undefined): ObjectInfo {
    return { key, size, lastModified: lastModified ?? new Date(0), ...(tier ? { storageClass: tier } : {}) };
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    validateKey(key);
    const op = `get ${key} from ${this.url}`;
    try {
      const blob = this.blob(await this.containerClient(op), key);
      const res = await blob.download(0, undefined, { ...(opts.signal ? { abortSignal: opts.signal } : {}), maxRetryRequests: 5 });
      const stream = res.readableStreamBody as Readable | undefined;
      if (!stream) throw new Error('no body in the download response');
      if (opts.signal) addAbortSignal(opts.signal, stream);
      return stream;
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(key, this.url);
      if (failureOf(err).code === 'BlobArchived') {
        // Same code as S3's archived objects (InvalidObjectState).
        throw new StorageRejectedError(op, this.url, 'BlobArchived: an Archive-tier blob must be rehydrated first (set its tier to Hot or Cool; up to 15 hours at standard priority)', err);
      }
      throw this.fail(op, err, opts.signal);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    const op = `head ${key} in ${this.url}`;
    try {
      const props = await this.blob(await this.containerClient(op), key).getProperties();
      return this.info(key, props.contentLength ?? 0, props.lastModified, props.accessTier);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail(op, err);
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    validatePrefix(prefix);
    const op = `list ${prefix || '(all)'} in ${this.url}`;
    const limit = Math.max(1, Math.min(opts.limit ?? 1000, 5000));
    try {
      const c = await this.containerClient(op);
      const pages = c
        .listBlobsFlat({ prefix: joinKey(this.prefix, prefix) })
        .byPage({ maxPageSize: limit, ...(opts.cursor !== undefined ? { continuationToken: opts.cursor } : {}) });
      const page = (await pages.next()).value as
        | { segment: { blobItems: Array<{ name: string; properties: { contentLength?: number; lastModified: Date; accessTier?: string } }> }; continuationToken?: string }
        | undefined;
      const items = (page?.segment.blobItems ?? []).map((b) =>
        this.info(stripPrefix(this.prefix, b.name), b.properties.contentLength ?? 0, b.properties.lastModified, b.properties.accessTier),
      );
      return page?.continuationToken ? { items, cursor: page.continuationToken } : { items };
    } catch (err) {
      if (opts.cursor !== undefined && failureOf(err).status === 400) throw new StorageInvalidCursorError();
      throw this.fail(op, err);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const op = `delete ${key} from ${this.url}`;
    try {
      await this.blob(await this.containerClient(op), key).deleteIfExists({ deleteSnapshots: 'include' });
    } catch (err) {
      throw this.fail(op, err);
    }
  }

  /** Uncommitted blocks are not objects: the service discards them by itself. */
  async cleanupIncomplete(prefix: string, _olderThanMs = 0): Promise<number> {
    validatePrefix(prefix);
    return 0;
  }
}
