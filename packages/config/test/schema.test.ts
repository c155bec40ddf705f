/**
 * The declarative schema (src/schema/) and the rules the config shares with the API and the CLI:
 * the one cron rule, the one key-file reader, one id per database file.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, type TSchema } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ConfigFileSchema, checkCron, loadConfig, readKeyFile, type Config } from '../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mfb-schema-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(yamlText: string): Config {
  const file = path.join(dir, 'c.yaml');
  writeFileSync(file, yamlText, { mode: 0o600 });
  return loadConfig({ file, env: {}, cwd: dir });
}

function problems(yamlText: string): string[] {
  try {
    load(yamlText);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

const schedule = (cron: string, timezone = 'UTC') =>
  `databases:\n  - id: a\n    path: /a.db\n    schedules:\n      - id: s\n        cron: ${JSON.stringify(cron)}\n        timezone: ${JSON.stringify(timezone)}\n`;

/** Crons both the config file and the API accept (true) or refuse (false); apps/api/test/cron-parity.test.ts runs the same list. */
export const CRON_CASES: Array<[string, boolean]> = [
  ['0 3 * * *', true],
  ['*/5 * * * *', true],
  ['* * * * *', true],
  ['0 0 * * 1-5', true],
  ['0 0 1 jan,jul *', true],
  ['30 2 * * MON', true],
  ['0 */2 * * * *', true],
  ['0 0 L * *', true],
  ['61 * * * *', false], // minute out of range: the old config rule (characters only) accepted it
  ['0 25 * * *', false],
  ['0 0 31 2 *', false], // never runs
  ['* * * * * *', false], // every second: too frequent
  ['*/10 * * * * *', false],
  ['0,30 * * * * *', false],
  ['0 3 * *', false],
  ['0 3 * * * * *', false],
  ['@daily', false],
  ['0 3 * * $', false],
  [`0 3 * * ${'1,'.repeat(60)}1`, false], // longer than 120 characters
];

describe('one cron rule for the config file and the API', () => {
  it.each(CRON_CASES)('%s: accepted = %s, by loadConfig and by checkCron alike', (cron, ok) => {
    const found = problems(schedule(cron));
    expect(found.length === 0, found.join('\n')).toBe(ok);
    if (!ok) expect(found.every((p) => p.startsWith('databases[0].schedules[0].cron: '))).toBe(true);
    expect(checkCron(cron, 'UTC').ok).toBe(ok);
  });

  it('the interval rule looks past the next two runs (the answer does not depend on the time it is asked)', () => {
    // 00:00:00 and 00:00:30 of every 5th minute: from xx:00:10 the next two runs are 270 s apart.
    const cron = '0,30 */5 * * * *';
    expect(checkCron(cron, 'UTC', new Date('2026-01-01T00:00:10Z'))).toMatchObject({ ok: false, kind: 'too-frequent', intervalSeconds: 30 });
    expect(checkCron(cron, 'UTC', new Date('2026-01-01T00:04:50Z'))).toMatchObject({ ok: false, kind: 'too-frequent', intervalSeconds: 30 });
    expect(problems(schedule(cron))).toEqual(['databases[0].schedules[0].cron: schedule would run every 30 s; the minimum interval is 60 s']);
  });

  it('a bad time zone and a bad cron are both reported, each at its field', () => {
    expect(problems(schedule('61 * * * *', 'Mars/Olympus'))).toEqual([
      'databases[0].schedules[0].timezone: unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Berlin or UTC)',
      expect.stringMatching(/^databases\[0\]\.schedules\[0\]\.cron: /),
    ]);
  });
});

describe('the same database file under two ids', () => {
  it('is refused at boot, naming both ids (same path written differently, or a symlink to it)', () => {
    const db = path.join(dir, 'fin.db');
    writeFileSync(db, '');
    symlinkSync(db, path.join(dir, 'link.db'));
    const p = problems('databases:\n  - id: fin\n    path: ./fin.db\n  - id: other\n    path: /x/other.db\n  - id: copy\n    path: ./sub/../fin.db\n  - id: linked\n    path: link.db\n');
    expect(p).toEqual([
      `databases[2].path: databases "fin" and "copy" are the same file ${db}; configure each database file once (one id per file)`,
      `databases[3].path: databases "fin" and "linked" are the same file ${db}; configure each database file once (one id per file)`,
    ]);
  });

  it('is refused when the file does not exist yet (resolved paths compared)', () => {
    const p = problems('databases:\n  - id: a\n    path: ./missing.db\n  - id: b\n    path: missing.db\n');
    expect(p).toEqual([`databases[1].path: databases "a" and "b" are the same file ${path.join(dir, 'missing.db')}; configure each database file once (one id per file)`]);
  });

  it('distinct files are fine', () => {
    expect(load('databases:\n  - id: a\n    path: ./a.db\n  - id: b\n    path: ./b.db\n').databases.map((d) => d.id)).toEqual(['a', 'b']);
  });
});

describe('compression', () => {
  it('{ algorithm: none } needs no level and loads as level 0 (what the engine accepts for none)', () => {
    expect(load('databases:\n  - id: a\n    path: /a.db\n    compression: { algorithm: none }\n').databases[0]!.compression).toEqual({ algorithm: 'none', level: 0 });
    expect(problems('databases:\n  - id: a\n    path: /a.db\n    compression: { algorithm: none, level: 3 }\n')).toEqual([
      'databases[0].compression.level: must be absent (or 0) when algorithm is none, got 3',
    ]);
  });
});

describe('readKeyFile (the config keys and the CLI --key-file)', () => {
  const key = randomBytes(32);
  it('reads base64 or hex of 32 bytes from a 0600 file, as keys[].file does', () => {
    const b64 = path.join(dir, 'b64.key');
    const hex = path.join(dir, 'hex.key');
    writeFileSync(b64, key.toString('base64') + '\n', { mode: 0o600 });
    writeFileSync(hex, key.toString('hex') + '\n', { mode: 0o600 });
    expect(readKeyFile(b64)).toEqual({ ok: true, key });
    expect(readKeyFile(hex)).toEqual({ ok: true, key });
    const c = load('keys:\n  - { id: a, file: ./b64.key }\n  - { id: b, file: ./hex.key }\n');
    expect(c.keys.get('a')).toEqual(key);
    expect(c.keys.get('b')).toEqual(key);
  });

  it('refuses missing files, directories, loose modes and non-keys without showing key material', () => {
    expect(readKeyFile(path.join(dir, 'none.key'))).toMatchObject({ ok: false, reason: 'missing' });
    mkdirSync(path.join(dir, 'd.key'));
    expect(readKeyFile(path.join(dir, 'd.key'))).toMatchObject({ ok: false, reason: 'invalid', problem: expect.stringContaining('not a regular file') });
    const loose = path.join(dir, 'loose.key');
    writeFileSync(loose, key.toString('base64'));
    chmodSync(loose, 0o644);
    expect(readKeyFile(loose)).toMatchObject({ ok: false, reason: 'invalid', problem: expect.stringContaining('(mode 0644)') });
    const short = path.join(dir, 'short.key');
    writeFileSync(short, key.subarray(0, 16).toString('base64'), { mode: 0o600 });
    const r = readKeyFile(short);
    expect(r).toMatchObject({ ok: false, reason: 'invalid', problem: expect.stringContaining('does not hold a 32-byte key') });
    expect(JSON.stringify(r)).not.toContain(key.subarray(0, 16).toString('base64'));
  });
});

describe('the schema is the documentation source', () => {
  /** Every option path of the schema (`databases[].schedules[].cron`). */
  function paths(s: TSchema, prefix: string): string[] {
    const o = s as TSchema & { properties?: Record<string, TSchema>; items?: TSchema };
    if (o[Kind] === 'Array' && o.items) return paths(o.items, `${prefix}[]`);
    if (o[Kind] !== 'Object' || !o.properties) return [];
    return Object.entries(o.properties).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      return [p, ...paths(v, p)];
    });
  }

  it('docs/configuration.md names every section and field of the schema in its code spans', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url)), 'utf8');
    const code = (doc.match(/`[^`\n]+`/g) ?? []).join(' ');
    const all = paths(ConfigFileSchema, '');
    expect(all.length).toBeGreaterThan(50);
    const missing = all.filter((p) => !new RegExp(`\\b${p.split('.').pop()!.replace('[]', '')}\\b`).test(code));
    expect(missing).toEqual([]);
  });
});
