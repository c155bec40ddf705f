import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '@mfb/errors';
import { Decryptor, Encryptor, decryptBuffer, encryptBuffer, parseEncryptionHeader } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const DOC = readFileSync(join(here, '../../../docs/backup-format.md'), 'utf8');

interface Vector {
  name: string;
  key: Buffer;
  salt: Buffer;
  keyId: string;
  chunkSize: number;
  plaintext: Buffer;
  artifact: Buffer;
}

function vectorsFromDoc(): Vector[] {
  const blocks = [...DOC.matchAll(/```test-vector\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.map((b) => {
    const f: Record<string, string> = {};
    for (const line of b.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) f[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    return {
      name: f.name!,
      key: Buffer.from(f.key!, 'hex'),
      salt: Buffer.from(f.salt!, 'hex'),
      keyId: f.keyId!,
      chunkSize: Number(f.chunkSize),
      plaintext: Buffer.from(f.plaintext ?? '', 'hex'),
      artifact: Buffer.from(f.artifact!, 'hex'),
    };
  });
}

const KEY = Buffer.alloc(32, 7);
const OTHER = Buffer.alloc(32, 8);
const ring = new Map([['k', KEY]]);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'NO_ERROR';
}
const DETECTED = ['BACKUP_AUTH_FAILED', 'BACKUP_WRONG_KEY', 'BACKUP_UNKNOWN_KEY_ID'];

describe('test vectors of docs/backup-format.md', () => {
  const vectors = vectorsFromDoc();
  it('the document has the vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(4);
  });
  for (const v of vectors) {
    it(`encrypts byte for byte: ${v.name}`, () => {
      const out = encryptBuffer(v.plaintext, { keyId: v.keyId, key: v.key, chunkSize: v.chunkSize, salt: v.salt });
      expect(out.toString('hex')).toBe(v.artifact.toString('hex'));
      expect(decryptBuffer(v.artifact, new Map([[v.keyId, v.key]]))).toEqual(v.plaintext);
    });
  }
  it('intermediate values (header, headerHash) match the document', () => {
    const v = vectors[0]!;
    const header = parseEncryptionHeader(v.artifact)!;
    expect(header.headerBytes).toBe(70);
    const raw = v.artifact.subarray(0, header.headerBytes);
    expect(DOC).toContain(`header     = ${raw.toString('hex')}`);
    expect(DOC).toContain(`headerHash = ${createHash('sha256').update(raw).digest('hex')}`);
    expect(DOC).toContain(`keyCheck   = ${header.keyCheck.toString('hex')}`);
  });
  const hasPyCrypto = spawnSync('python3', ['-c', 'import cryptography'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasPyCrypto)('an independent Python implementation of the spec produces the same bytes', () => {
    for (const v of vectors) {
      const out = execFileSync('python3', [
        join(here, 'fixtures/reference_encrypt.py'),
        v.key.toString('hex'),
        v.keyId,
        v.salt.toString('hex'),
        String(v.chunkSize),
        v.plaintext.toString('hex'),
      ]).toString().trim();
      expect(out).toBe(v.artifact.toString('hex'));
    }
  });
});

describe('round trip', () => {
  it('any plaintext, chunk size and write/read splitting', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 16, max: 700 }), fc.array(fc.integer({ min: 1, max: 900 }), { maxLength: 8 }), (pt, chunkSize, cuts) => {
        const plain = Buffer.from(pt);
        const e = new Encryptor({ keyId: 'k', key: KEY, chunkSize });
        const sealed: Buffer[] = [];
        let pos = 0;
        for (const c of cuts) {
          sealed.push(...e.update(plain.subarray(pos, pos + c)));
          pos = Math.min(plain.length, pos + c);
        }
        sealed.push(...e.update(plain.subarray(pos)), ...e.final());
        const art = Buffer.concat(sealed);
        const chunks = Math.max(1, Math.ceil(plain.length / chunkSize));
        expect(art.length).toBe(e.header.length + plain.length + 16 * chunks);
        const d = new Decryptor(ring);
        const out: Buffer[] = [];
        let p = 0;
        for (const c of [...cuts, art.length]) {
          out.push(...d.update(art.subarray(p, p + c)));
          p = Math.min(art.length, p + c);
        }
        out.push(...d.final());
        expect(Buffer.concat(out)).toEqual(plain);
      }),
      { numRuns: 60 },
    );
  });
  it('fresh salt per artifact', () => {
    const a = encryptBuffer(Buffer.from('same'), { keyId: 'k', key: KEY });
    const b = encryptBuffer(Buffer.from('same'), { keyId: 'k', key: KEY });
    expect(a.equals(b)).toBe(false);
  });
  it('rotation: the header key id picks the key from the ring', () => {
    const a = encryptBuffer(Buffer.from('old'), { keyId: 'old', key: OTHER });
    const b = encryptBuffer(Buffer.from('new'), { keyId: 'new', key: KEY });
    const keys = new Map([
      ['old', OTHER],
      ['new', KEY],
    ]);
    expect(decryptBuffer(a, keys).toString()).toBe('old');
    expect(decryptBuffer(b, keys).toString()).toBe('new');
  });
});

describe('tampering is always detected (property)', () => {
  const plain = randomBytes(2000);
  const CHUNK = 100;
  const art = encryptBuffer(plain, { keyId: 'k', key: KEY, chunkSize: CHUNK });
  const hdr = parseEncryptionHeader(art)!.headerBytes;
  const nChunks = Math.ceil(plain.length / CHUNK);
  const sealed = CHUNK + 16;

  /** Plaintext released before the failure must be an untampered prefix, never tampered bytes. */
  function releasedBeforeFailure(bytes: Buffer): { code: string; released: Buffer } {
    const d = new Decryptor(ring);
    const released: Buffer[] = [];
    try {
      for (let p = 0; p < bytes.length; p += 333) released.push(...d.update(bytes.subarray(p, p + 333)));
      released.push(...d.final());
    } catch (err) {
      if (err instanceof AppError) return { code: err.code, released: Buffer.concat(released) };
      throw err;
    }
    return { code: 'NO_ERROR', released: Buffer.concat(released) };
  }

  it('flipping any bit of any byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: art.length - 1 }), fc.integer({ min: 0, max: 7 }), (pos, bit) => {
        const bad = Buffer.from(art);
        bad[pos]! ^= 1 << bit;
        const { code, released } = releasedBeforeFailure(bad);
        expect(DETECTED).toContain(code);
        // Only whole chunks before the damaged one can have been released.
        const firstBadChunk = pos < hdr ? 0 : Math.floor((pos - hdr) / sealed);
        expect(released.length).toBeLessThanOrEqual(firstBadChunk * CHUNK);
        expect(plain.subarray(0, released.length).equals(released)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('truncating at any point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: art.length - 1 }), (len) => {
        expect(DETECTED).toContain(codeOf(() => decryptBuffer(art.subarray(0, len), ring)));
      }),
      { numRuns: 300 },
    );
    // every chunk boundary explicitly
    for (let c = 0; c < nChunks; c++) expect(codeOf(() => decryptBuffer(art.subarray(0, hdr + c * sealed), ring))).toBe('BACKUP_AUTH_FAILED');
  });

  it('appending bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (extra) => {
        expect(codeOf(() => decryptBuffer(Buffer.concat([art, extra]), ring))).toBe('BACKUP_AUTH_FAILED');
      }),
      { numRuns: 50 },
    );
  });

  it('swapping two chunks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: nChunks - 2 }), fc.integer({ min: 0, max: nChunks - 2 }), (a, b) => {
        fc.pre(a !== b);
        const bad = Buffer.from(art);
        art.copy(bad, hdr + a * sealed, hdr + b * sealed, hdr + (b + 1) * sealed);
        art.copy(bad, hdr + b * sealed, hdr + a * sealed, hdr + (a + 1) * sealed);
        expect(codeOf(() => decryptBuffer(bad, ring))).toBe('BACKUP_AUTH_FAILED');
      }),
      { numRuns: 100 },
    );
  });

  it('chunks spliced from another artifact with the same key', () => {
    const other = encryptBuffer(randomBytes(2000), { keyId: 'k', key: KEY, chunkSize: CHUNK });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: nChunks - 1 }), (i) => {
        const bad = Buffer.from(art);
        other.copy(bad, hdr + i * sealed, hdr + i * sealed, Math.min(other.length, hdr + (i + 1) * sealed));
        expect(codeOf(() => decryptBuffer(bad, ring))).toBe('BACKUP_AUTH_FAILED');
      }),
      { numRuns: 20 },
    );
  });

  it('another key under the same id, and an unknown id', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (k) => {
        fc.pre(!Buffer.from(k).equals(KEY));
        expect(codeOf(() => decryptBuffer(art, new Map([['k', Buffer.from(k)]])))).toBe('BACKUP_WRONG_KEY');
      }),
      { numRuns: 50 },
    );
    expect(codeOf(() => decryptBuffer(art, new Map([['other', KEY]])))).toBe('BACKUP_UNKNOWN_KEY_ID');
  });
});

describe('bad options', () => {
  it('rejects short keys, bad key ids and chunk sizes', () => {
    expect(codeOf(() => new Encryptor({ keyId: 'k', key: Buffer.alloc(16) }))).toBe('BACKUP_INVALID_OPTIONS');
    expect(codeOf(() => new Encryptor({ keyId: 'has space', key: KEY }))).toBe('BACKUP_INVALID_OPTIONS');
    expect(codeOf(() => new Encryptor({ keyId: '', key: KEY }))).toBe('BACKUP_INVALID_OPTIONS');
    expect(codeOf(() => new Encryptor({ keyId: 'k', key: KEY, chunkSize: 8 }))).toBe('BACKUP_INVALID_OPTIONS');
  });
});
