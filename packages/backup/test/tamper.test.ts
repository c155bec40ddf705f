import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@mfb/errors';
import { createBackup, manifestKeyFor, parseEncryptionHeader, restoreBackup, verifyBackup, type Manifest } from '../src/index.js';
import { KEY_A, KEY_B, ls, makeLedgerDb, sandbox, type Sandbox } from './helpers.js';

/**
 * Invariant 3 end to end: any change to a stored artifact is detected before a single byte
 * reaches the restore target - also when the attacker rewrites the manifest to match.
 */
let sb: Sandbox;
let artifactKey: string;
let original: Buffer;
let manifestText: string;
let manifest: Manifest;
let header: number;
const CHUNK = 4096;
const SEALED = CHUNK + 16;
let chunks: number;
const keys = new Map([['k1', KEY_A]]);
const DETECTED = ['BACKUP_CHECKSUM_MISMATCH', 'BACKUP_AUTH_FAILED', 'BACKUP_WRONG_KEY', 'BACKUP_UNKNOWN_KEY_ID', 'BACKUP_MANIFEST_MISMATCH'];

beforeAll(async () => {
  sb = await sandbox();
  makeLedgerDb(join(sb.dir, 'finance.db'), { txs: 3000 });
  const r = await createBackup({
    databaseId: 'finance',
    sourcePath: join(sb.dir, 'finance.db'),
    storage: sb.storage,
    compression: { algorithm: 'gzip', level: 1 },
    encryption: { keyId: 'k1', key: KEY_A, chunkSize: CHUNK },
    tmpDir: sb.tmpDir,
  });
  artifactKey = r.manifest.artifactKey;
  manifest = r.manifest;
  original = await readFile(join(sb.storageDir, artifactKey));
  manifestText = await readFile(join(sb.storageDir, manifestKeyFor(artifactKey)), 'utf8');
  header = parseEncryptionHeader(original)!.headerBytes;
  chunks = Math.ceil((original.length - header) / SEALED);
});
afterAll(async () => {
  await sb.cleanup();
});

async function store(artifact: Buffer, rewriteManifest: boolean): Promise<void> {
  await writeFile(join(sb.storageDir, artifactKey), artifact);
  const m = rewriteManifest
    ? JSON.stringify({ ...manifest, artifact: { sizeBytes: artifact.length, sha256: createHash('sha256').update(artifact).digest('hex') } })
    : manifestText;
  await writeFile(join(sb.storageDir, manifestKeyFor(artifactKey)), m);
}

let n = 0;
/** Restore into a fresh path (and verify): both must fail with a detection code, the target must not exist. */
async function expectDetected(useKeys = keys): Promise<string> {
  const target = join(sb.dir, 'targets', `t${n++}.db`);
  let code = 'NO_ERROR';
  try {
    await restoreBackup({ storage: sb.storage, artifactKey, keys: useKeys, tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    code = err.code;
  }
  expect(DETECTED).toContain(code);
  await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  await expect(verifyBackup({ storage: sb.storage, artifactKey, keys: useKeys, tmpDir: sb.tmpDir })).rejects.toBeInstanceOf(AppError);
  expect(await ls(sb.tmpDir)).toEqual([]);
  return code;
}

describe('stored artifact tampering (property, end to end)', () => {
  it('sanity: the untouched artifact restores', async () => {
    expect(chunks).toBeGreaterThan(4);
    await store(original, false);
    const r = await verifyBackup({ storage: sb.storage, artifactKey, keys, tmpDir: sb.tmpDir });
    expect(r.integrity).toBe('ok');
  });

  for (const rewrite of [false, true]) {
    const how = rewrite ? ' (manifest rewritten to match)' : '';
    it(`flipping any bit of any byte${how}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: original.length - 1 }), fc.integer({ min: 0, max: 7 }), async (pos, bit) => {
          const bad = Buffer.from(original);
          bad[pos]! ^= 1 << bit;
          await store(bad, rewrite);
          const code = await expectDetected();
          if (!rewrite) expect(code).toBe('BACKUP_CHECKSUM_MISMATCH');
        }),
        { numRuns: 25 },
      );
    });

    it(`truncating at any point${how}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: original.length - 1 }), async (len) => {
          await store(original.subarray(0, len), rewrite);
          await expectDetected();
        }),
        { numRuns: 20 },
      );
    });
  }

  it('truncating at every chunk boundary (manifest rewritten)', async () => {
    for (let c = 1; c < chunks; c++) {
      await store(original.subarray(0, header + c * SEALED), true);
      expect(await expectDetected()).toBe('BACKUP_AUTH_FAILED');
    }
  });

  it('swapping two chunks (manifest rewritten)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: chunks - 2 }), fc.integer({ min: 0, max: chunks - 2 }), async (a, b) => {
        fc.pre(a !== b);
        const bad = Buffer.from(original);
        original.copy(bad, header + a * SEALED, header + b * SEALED, header + (b + 1) * SEALED);
        original.copy(bad, header + b * SEALED, header + a * SEALED, header + (a + 1) * SEALED);
        await store(bad, true);
        expect(await expectDetected()).toBe('BACKUP_AUTH_FAILED');
      }),
      { numRuns: 15 },
    );
  });

  it('another key under the same key id', async () => {
    await store(original, false);
    expect(await expectDetected(new Map([['k1', KEY_B]]))).toBe('BACKUP_WRONG_KEY');
  });

  it('replace mode: a tampered artifact never touches the live database and takes no safety copy', async () => {
    const live = join(sb.dir, 'live.db');
    makeLedgerDb(live, { txs: 50, journal: 'delete' });
    const before = await readFile(live);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: original.length - 1 }), async (pos) => {
        const bad = Buffer.from(original);
        bad[pos]! ^= 0x01;
        await store(bad, true);
        await expect(
          restoreBackup({ storage: sb.storage, artifactKey, keys, tmpDir: sb.tmpDir, targetPath: live, mode: 'replace', safetyCopyDir: join(sb.dir, 'safety') }),
        ).rejects.toBeInstanceOf(AppError);
        expect((await readFile(live)).equals(before)).toBe(true);
        expect(await ls(join(sb.dir, 'safety'))).toEqual([]);
      }),
      { numRuns: 15 },
    );
  });
});
