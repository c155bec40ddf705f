import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mfb-config-inc-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function load(yamlText: string) {
  const file = path.join(dir, 'c.yaml');
  writeFileSync(file, yamlText, { mode: 0o600 });
  return loadConfig({ file, env: {}, cwd: dir });
}

describe('databases[].incremental (issue 12)', () => {
  it('absent: no field (the engine defaults apply); present: parsed', () => {
    const c = load(`databases:
  - id: a
    path: a.db
  - id: b
    path: b.db
    incremental: { enabled: true, fullEvery: 3, maxChainRatio: 0.25, minSizeBytes: 1048576 }
`);
    expect(c.databases[0]!.incremental).toBeUndefined();
    expect(c.databases[1]!.incremental).toEqual({ enabled: true, fullEvery: 3, maxChainRatio: 0.25, minSizeBytes: 1048576 });
  });

  it('invalid values and unknown keys are CONFIG_INVALID naming the field', () => {
    for (const [bad, field] of [
      ['{ fullEvery: 0 }', 'databases[0].incremental.fullEvery'],
      ['{ maxChainRatio: -1 }', 'databases[0].incremental.maxChainRatio'],
      ['{ enabled: maybe }', 'databases[0].incremental.enabled'],
      ['{ every: 3 }', 'databases[0].incremental'],
    ] as const) {
      let err: unknown;
      try {
        load(`databases:\n  - id: a\n    path: a.db\n    incremental: ${bad}\n`);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(field);
    }
  });
});

describe('databases[].snapshot (issue 12: streaming snapshot, source check)', () => {
  it('absent: no field (engine defaults: stream; quick_check below incremental.minSizeBytes); present: parsed; bad values name the field', () => {
    const c = load(`databases:
  - id: a
    path: a.db
  - id: b
    path: b.db
    snapshot: { method: vacuum-into, sourceCheck: none }
`);
    expect(c.databases[0]!.snapshot).toBeUndefined();
    expect(c.databases[1]!.snapshot).toEqual({ method: 'vacuum-into', sourceCheck: 'none' });
    for (const [bad, field] of [
      ['{ method: copy }', 'databases[0].snapshot.method'],
      ['{ sourceCheck: full }', 'databases[0].snapshot.sourceCheck'],
      ['{ check: quick }', 'databases[0].snapshot'],
    ] as const) {
      expect(() => load(`databases:\n  - id: a\n    path: a.db\n    snapshot: ${bad}\n`)).toThrow(field);
    }
  });
});
