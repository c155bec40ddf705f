import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../apps/cli/src/exit-codes.js';
import { collectCodes } from './error-codes.js';

interface DocRow {
  status: string;
  exit: string;
  kind: string;
}

/** The rows of every table in docs/errors.md whose first cell is a code. */
function documented(): Map<string, DocRow> {
  const text = readFileSync(join(import.meta.dirname, '..', 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, DocRow>();
  for (const line of text.split('\n')) {
    const m = /^\| `([A-Z][A-Z0-9_]*)` \|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const cells = m[2]!.split('|').map((c) => c.trim());
    const [status, exit, kind] = cells.slice(-3) as [string, string, string];
    expect(rows.has(m[1]!), `${m[1]} is listed twice in docs/errors.md`).toBe(false);
    rows.set(m[1]!, { status, exit, kind });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const { codes, conflicts } = collectCodes();
  const docs = documented();

  it('lists exactly the codes the code defines', () => {
    expect([...docs.keys()].sort()).toEqual([...codes.keys()].sort());
  });

  it('gives each code the HTTP status, CLI exit status and kind the code gives it', () => {
    for (const f of codes.values()) {
      const row = docs.get(f.code);
      if (!row) continue;
      expect(row, f.code).toEqual({ status: f.status === 0 ? '—' : String(f.status), exit: String(exitCodeFor(f.code)), kind: f.permanent ? 'permanent' : 'transient' });
    }
  });

  it('one code means one thing: classes sharing a code agree on status and permanence', () => {
    expect(conflicts).toEqual([]);
  });
});
