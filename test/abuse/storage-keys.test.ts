/**
 * Abuse: no key or id, however hostile, addresses a path outside the storage root
 * (ARCHITECTURE.md invariant 1/6, issue #11 "abuse suite"). Property tests over the key rules
 * (`validateKey`/`validatePrefix`), the local driver's key-to-path mapping and every driver
 * operation, and the engine's artifact keys built from database and backup ids.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactKeyFor } from '@mfb/backup';
import { LocalStorageDriver, validateKey, validatePrefix } from '@mfb/storage';

/** Pieces an attacker would try: traversal, absolute paths, NUL, unicode look-alike separators. */
const PIECES = [
  '..', '.', '...', '/', '//', '\\', '..\\', '\0', '%2e%2e', '%2f', '%00', '~', '/etc/passwd', 'C:', 'c:\\windows', '\\\\server\\share',
  '\u2215', // division slash
  '\u2044', // fraction slash
  '\uff0f', // fullwidth solidus
  '\u29f8', // big solidus
  '\uff0e\uff0e', // fullwidth full stops
  '\u202e', // right-to-left override
  '\u200b', // zero width space
  '\ud800', // lone surrogate
  '\n', '\r', '\t', ' ', '.mfb-tmp-x', 'db1', 'a', 'Ä', '😀', '..%c0%af', '.%2e',
];

const hostileKey = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 }).map((a) => a.join('')) },
  { weight: 2, arbitrary: fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 6 }).map((a) => a.join('/')) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

let base = '';
let root = '';
let driver: LocalStorageDriver;
const VICTIM = 'do not touch';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(p + '/', ...(await walk(p)));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'mfb-abuse-keys-'));
  // root is two levels down, so `..` and `../..` land in directories this test can watch.
  root = path.join(base, 'outer', 'root');
  await mkdir(root, { recursive: true, mode: 0o700 });
  await writeFile(path.join(base, 'outer', 'victim'), VICTIM);
  await writeFile(path.join(base, 'victim'), VICTIM);
  driver = new LocalStorageDriver(root);
});
afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

describe('abuse: keys never leave the storage root', () => {
  it('every key validateKey accepts maps to a path strictly inside the root', () => {
    fc.assert(
      fc.property(hostileKey, (key) => {
        let ok = true;
        try {
          validateKey(key);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('STORAGE_INVALID_KEY');
          ok = false;
        }
        if (ok) {
          // The local driver's mapping (LocalStorageDriver.pathOf): root joined with the segments.
          expect(inside(root, path.join(root, ...key.split('/'))), JSON.stringify(key)).toBe(true);
          expect(key.split('/')).not.toContain('..');
        }
        let prefixOk = true;
        try {
          validatePrefix(key);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('STORAGE_INVALID_KEY');
          prefixOk = false;
        }
        if (prefixOk) {
          // A prefix's last segment only filters names in the directory the others address.
          const dirs = key.split('/').slice(0, -1);
          expect(inside(root, path.join(root, ...dirs, 'x')), JSON.stringify(key)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the fixed hostile list is refused outright', () => {
    for (const key of ['..', '../x', 'a/../../x', '/etc/passwd', 'a\0b', 'a\\..\\b', 'C:/x', '.', 'a/./b', 'a//b', '', 'a/', '.mfb-tmp-1-x']) {
      expect(() => validateKey(key), JSON.stringify(key)).toThrow(/STORAGE_INVALID_KEY|not allowed|contains|empty|reserved/);
    }
  });

  it('driver operations with hostile keys touch nothing outside the root', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(hostileKey, async (key) => {
        const attempts: Array<() => Promise<unknown>> = [
          () => driver.put(key, Readable.from([Buffer.from('x')])),
          () => driver.get(key).then((s) => s.destroy()),
          () => driver.head(key),
          () => driver.delete(key),
          () => driver.list(key, { limit: 5 }),
          () => driver.cleanupIncomplete(key, 0),
        ];
        for (const a of attempts) {
          try {
            await a();
            accepted++;
          } catch (err) {
            refused++;
            // Refusals are typed storage errors, never a raw fs error from outside the root.
            expect(String((err as { code?: string }).code), `${JSON.stringify(key)}: ${(err as Error).message}`).toMatch(/^STORAGE_/);
          }
        }
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    const outside = (await walk(base)).filter((p) => !p.startsWith(root + path.sep) && p !== root + '/');
    expect(outside.sort()).toEqual([path.join(base, 'outer') + '/', path.join(base, 'outer', 'victim'), path.join(base, 'victim')].sort());
    expect(await readFile(path.join(base, 'victim'), 'utf8')).toBe(VICTIM);
    expect(await readFile(path.join(base, 'outer', 'victim'), 'utf8')).toBe(VICTIM);
  });

  it('artifact keys built from any database/backup id are refused or stay inside the root', async () => {
    await fc.assert(
      fc.asyncProperty(hostileKey, hostileKey, fc.constantFrom('gzip', 'zstd', 'none') as fc.Arbitrary<'gzip' | 'zstd' | 'none'>, fc.boolean(), async (db, id, alg, enc) => {
        const key = artifactKeyFor(db, id, alg, enc);
        try {
          validateKey(key);
        } catch {
          await expect(driver.head(key)).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' });
          return;
        }
        expect(inside(root, path.join(root, ...key.split('/'))), JSON.stringify(key)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
