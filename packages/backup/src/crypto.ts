import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ByteQueue } from './bytequeue.js';
import { AuthFailedError, InvalidBackupOptionsError, UnknownKeyIdError, WrongKeyError } from './errors.js';
import type { KeyRing } from './types.js';

/**
 * `aes-256-gcm-chunked-v1`: the streaming AEAD format of encrypted artifacts.
 * The normative description (and test vectors) is docs/backup-format.md; keep them in sync.
 */
export const ENCRYPTION_ALGORITHM = 'aes-256-gcm-chunked-v1' as const;
export const MAGIC = Buffer.from('MFBENC', 'latin1');
export const FORMAT_VERSION = 1;
export const SALT_BYTES = 32;
export const KEY_CHECK_BYTES = 16;
export const TAG_BYTES = 16;
export const FIXED_HEADER_BYTES = MAGIC.length + 1 + 1 + 4 + SALT_BYTES + KEY_CHECK_BYTES; // 60
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MIN_CHUNK_SIZE = 16;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
export const KEY_BYTES = 32;
const INFO_KEY = Buffer.from('myfinance-backup aes-256-gcm-chunked-v1 data key', 'utf8');
const INFO_CHECK = Buffer.from('myfinance-backup aes-256-gcm-chunked-v1 key check', 'utf8');

export interface EncryptionHeader {
  version: number;
  keyId: string;
  chunkSize: number;
  salt: Buffer;
  keyCheck: Buffer;
  /** Length of the encoded header in bytes (where chunk 0 starts). */
  headerBytes: number;
}

export function validateKeyId(keyId: string): void {
  const len = Buffer.byteLength(keyId, 'utf8');
  if (len < 1 || len > 255 || !/^[\x21-\x7e]+$/.test(keyId)) {
    throw new InvalidBackupOptionsError('encryption key id must be 1-255 printable ASCII characters without spaces');
  }
}

export function validateKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new InvalidBackupOptionsError('encryption key must be exactly 32 bytes');
}

function deriveKeys(master: Buffer, salt: Buffer): { dataKey: Buffer; keyCheck: Buffer } {
  return {
    dataKey: Buffer.from(hkdfSync('sha256', master, salt, INFO_KEY, KEY_BYTES)),
    keyCheck: Buffer.from(hkdfSync('sha256', master, salt, INFO_CHECK, KEY_CHECK_BYTES)),
  };
}

export function encodeHeader(h: { keyId: string; chunkSize: number; salt: Buffer; keyCheck: Buffer }): Buffer {
  const id = Buffer.from(h.keyId, 'utf8');
  const out = Buffer.alloc(FIXED_HEADER_BYTES + id.length);
  let o = MAGIC.copy(out, 0);
  out[o++] = FORMAT_VERSION;
  out[o++] = id.length;
  out.writeUInt32BE(h.chunkSize, o);
  o += 4;
  o += h.salt.copy(out, o);
  o += h.keyCheck.copy(out, o);
  id.copy(out, o);
  return out;
}

/**
 * Parse the header at the start of `buf`. Returns `null` when more bytes are needed.
 * Throws BACKUP_AUTH_FAILED for anything that is not a v1 header.
 */
export function parseHeader(buf: Buffer): EncryptionHeader | null {
  if (buf.length < FIXED_HEADER_BYTES) {
    if (!MAGIC.subarray(0, Math.min(buf.length, MAGIC.length)).equals(buf.subarray(0, Math.min(buf.length, MAGIC.length)))) {
      throw new AuthFailedError('not an encrypted artifact (bad magic)');
    }
    return null;
  }
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new AuthFailedError('not an encrypted artifact (bad magic)');
  let o = MAGIC.length;
  const version = buf[o++]!;
  if (version !== FORMAT_VERSION) throw new AuthFailedError(`unsupported format version ${version}`);
  const idLen = buf[o++]!;
  const chunkSize = buf.readUInt32BE(o);
  o += 4;
  if (idLen === 0 || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) throw new AuthFailedError('invalid header');
  if (buf.length < FIXED_HEADER_BYTES + idLen) return null;
  const salt = Buffer.from(buf.subarray(o, o + SALT_BYTES));
  o += SALT_BYTES;
  const keyCheck = Buffer.from(buf.subarray(o, o + KEY_CHECK_BYTES));
  o += KEY_CHECK_BYTES;
  const keyId = buf.subarray(o, o + idLen).toString('utf8');
  return { version, keyId, chunkSize, salt, keyCheck, headerBytes: FIXED_HEADER_BYTES + idLen };
}

function nonceFor(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aadFor(headerHash: Buffer, index: number, final: boolean): Buffer {
  const a = Buffer.alloc(32 + 8 + 1);
  headerHash.copy(a, 0);
  a.writeBigUInt64BE(BigInt(index), 32);
  a[40] = final ? 1 : 0;
  return a;
}

export interface EncryptorOptions {
  keyId: string;
  key: Buffer;
  chunkSize?: number;
  /** Only for test vectors: a fixed salt. Production always uses 32 random bytes. */
  salt?: Buffer;
}

/** Push-style encryptor: `update()` / `final()` return ciphertext pieces in order. */
export class Encryptor {
  readonly header: Buffer;
  readonly chunkSize: number;
  private readonly dataKey: Buffer;
  private readonly headerHash: Buffer;
  private readonly pending = new ByteQueue();
  private index = 0;
  private headerSent = false;
  private finished = false;

  constructor(opts: EncryptorOptions) {
    validateKeyId(opts.keyId);
    validateKey(opts.key);
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new InvalidBackupOptionsError(`encryption chunk size must be an integer in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
    }
    const salt = opts.salt ?? randomBytes(SALT_BYTES);
    if (salt.length !== SALT_BYTES) throw new InvalidBackupOptionsError('salt must be 32 bytes');
    const { dataKey, keyCheck } = deriveKeys(opts.key, salt);
    this.chunkSize = chunkSize;
    this.dataKey = dataKey;
    this.header = encodeHeader({ keyId: opts.keyId, chunkSize, salt, keyCheck });
    this.headerHash = createHash('sha256').update(this.header).digest();
  }

  private seal(plain: Buffer, final: boolean): Buffer {
    const c = createCipheriv('aes-256-gcm', this.dataKey, nonceFor(this.index));
    c.setAAD(aadFor(this.headerHash, this.index, final));
    const body = c.update(plain);
    c.final();
    this.index++;
    return Buffer.concat([body, c.getAuthTag()]);
  }

  update(data: Buffer): Buffer[] {
    if (this.finished) throw new Error('Encryptor.update after final');
    const out: Buffer[] = [];
    if (!this.headerSent) {
      out.push(this.header);
      this.headerSent = true;
    }
    this.pending.push(data);
    // Keep at least one byte back: the last chunk must be sealed with the final flag.
    while (this.pending.length > this.chunkSize) out.push(this.seal(this.pending.take(this.chunkSize), false));
    return out;
  }

  final(): Buffer[] {
    if (this.finished) return [];
    const out = this.update(Buffer.alloc(0));
    this.finished = true;
    out.push(this.seal(this.pending.take(this.pending.length), true));
    return out;
  }
}

/**
 * Push-style decryptor. Plaintext of a chunk is released only after its GCM tag verified;
 * the final flag in the AAD makes truncation at a chunk boundary and appended data fail.
 */
export class Decryptor {
  header: EncryptionHeader | null = null;
  private readonly queue = new ByteQueue();
  private headerBuf: Buffer = Buffer.alloc(0);
  private headerHash: Buffer | null = null;
  private dataKey: Buffer | null = null;
  private index = 0;
  private done = false;
  private sealed: Buffer | null = null;

  constructor(private readonly keys: KeyRing) {}

  private startIfReady(): void {
    const h = parseHeader(this.headerBuf);
    if (!h) return;
    const master = this.keys.get(h.keyId);
    if (!master) throw new UnknownKeyIdError(h.keyId);
    validateKey(master);
    const { dataKey, keyCheck } = deriveKeys(master, h.salt);
    if (!timingSafeEqual(keyCheck, h.keyCheck)) throw new WrongKeyError(h.keyId);
    this.header = h;
    this.dataKey = dataKey;
    this.headerHash = createHash('sha256').update(this.headerBuf.subarray(0, h.headerBytes)).digest();
    this.queue.push(this.headerBuf.subarray(h.headerBytes));
    this.headerBuf = Buffer.alloc(0);
  }

  private open(sealed: Buffer, final: boolean): Buffer {
    if (sealed.length < TAG_BYTES) throw new AuthFailedError('truncated chunk');
    const d = createDecipheriv('aes-256-gcm', this.dataKey!, nonceFor(this.index));
    d.setAAD(aadFor(this.headerHash!, this.index, final));
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      d.final();
    } catch (err) {
      throw new AuthFailedError(`chunk ${this.index} does not authenticate`, { cause: err });
    }
    this.index++;
    return plain;
  }

  update(data: Buffer): Buffer[] {
    if (this.done) throw new AuthFailedError('data after the final chunk');
    if (!this.header) {
      this.headerBuf = this.headerBuf.length ? Buffer.concat([this.headerBuf, data]) : data;
      this.startIfReady();
      if (!this.header) return [];
    } else {
      this.queue.push(data);
    }
    const sealedSize = this.header.chunkSize + TAG_BYTES;
    const out: Buffer[] = [];
    // One reused buffer for the sealed chunk: `open` copies what it releases, so a restore
    // of a large artifact does not leave a garbage buffer per chunk behind.
    if (this.queue.length > sealedSize) this.sealed ??= Buffer.allocUnsafeSlow(sealedSize);
    while (this.queue.length > sealedSize) out.push(this.open(this.queue.take(sealedSize, this.sealed!), false));
    return out;
  }

  final(): Buffer[] {
    if (!this.header) {
      this.startIfReady();
      if (!this.header) throw new AuthFailedError('truncated header');
    }
    if (this.done) return [];
    this.done = true;
    if (this.queue.length < TAG_BYTES) throw new AuthFailedError('missing final chunk (truncated)');
    return [this.open(this.queue.take(this.queue.length), true)];
  }
}

/** Transform stream around {@link Decryptor}. */
export class DecryptStream extends Transform {
  readonly decryptor: Decryptor;
  constructor(keys: KeyRing) {
    super();
    this.decryptor = new Decryptor(keys);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      for (const b of this.decryptor.update(chunk)) this.push(b);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
  override _flush(cb: TransformCallback): void {
    try {
      for (const b of this.decryptor.final()) this.push(b);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}

/** Encrypt a whole buffer (test vectors, small payloads). */
export function encryptBuffer(plain: Buffer, opts: EncryptorOptions): Buffer {
  const e = new Encryptor(opts);
  return Buffer.concat([...e.update(plain), ...e.final()]);
}

/** Decrypt a whole buffer (test vectors, small payloads). */
export function decryptBuffer(sealed: Buffer, keys: KeyRing): Buffer {
  const d = new Decryptor(keys);
  return Buffer.concat([...d.update(sealed), ...d.final()]);
}
