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
