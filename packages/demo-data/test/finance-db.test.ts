import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFinanceDb, summarizeFinanceDb, FINANCE_SCHEMA_VERSION } from '@mfb/demo-data';

let dir: string;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('generateFinanceDb', () => {
  it('generates a WAL-mode finance database of about the requested size with a consistent ledger', async () => {
    dir = mkdtempSync(join(tmpdir(), 'demo-data-'));
    const path = join(dir, 'finance.db');
    const res = await generateFinanceDb(path, { sizeBytes: 2 * 1024 * 1024, seed: 3 });
    expect(res.sizeBytes).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    expect(res.sizeBytes).toBeLessThan(2.5 * 1024 * 1024);
    expect(existsSync(`${path}.generating`)).toBe(false);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const idx = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all();
    expect(idx.length).toBeGreaterThanOrEqual(5);
    db.close();
    const s = summarizeFinanceDb(path);
    expect(s.userVersion).toBe(FINANCE_SCHEMA_VERSION);
    expect(s.tables.transactions).toBeGreaterThan(1000);
    expect(s.tables.splits).toBeGreaterThan(0);
    expect(s.tables.budgets).toBeGreaterThan(0);
    expect(s.transferBalanceCents).toBe(0);
  });

  it('is deterministic for a seed and honours journalMode delete; refuses to overwrite', async () => {
    dir = mkdtempSync(join(tmpdir(), 'demo-data-'));
    const a = join(dir, 'a.db');
    const b = join(dir, 'b.db');
    await generateFinanceDb(a, { sizeBytes: 512 * 1024, seed: 9, journalMode: 'delete' });
    await generateFinanceDb(b, { sizeBytes: 512 * 1024, seed: 9, journalMode: 'delete' });
    expect(summarizeFinanceDb(a)).toEqual(summarizeFinanceDb(b));
    const db = new Database(a, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    db.close();
    await expect(generateFinanceDb(a, { sizeBytes: 512 * 1024 })).rejects.toThrow(/already exists/);
  });
});
