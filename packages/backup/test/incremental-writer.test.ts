import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackup, restoreBackup, verifyBackup, type Manifest } from '../src/index.js';
import { KEY_A, integrity, ledger, ls, makeLedgerDb, sandbox, startWriter, type Sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe('incremental chain under a concurrent writer', () => {
  for (const journal of ['wal', 'delete'] as const) {
    it(`${journal} journal: a full + 3 deltas taken while another process commits; every link restores with integrity_check ok and a balanced ledger`, async () => {
      const src = join(sb.dir, 'live.db');
      makeLedgerDb(src, { journal, txs: 20_000 });
      const writer = await startWriter(src);
      const taken: { m: Manifest; pre: number; post: number }[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          const pre = ledger(src).entries;
          const { manifest } = await createBackup({
            databaseId: 'live',
            sourcePath: src,
            storage: sb.storage,
            compression: { algorithm: 'zstd', level: 1 },
            encryption: { keyId: 'k', key: KEY_A },
            tmpDir: sb.tmpDir,
            incremental: { minSizeBytes: 0, maxChainRatio: 100 },
          });
          taken.push({ m: manifest, pre, post: ledger(src).entries });
        }
      } finally {
        expect(await writer.stop()).toBeGreaterThan(1);
      }
      expect(taken.map((t) => t.m.kind)).toEqual(['full', 'delta', 'delta', 'delta']);
      for (const [i, t] of taken.entries()) {
        const target = join(sb.dir, `restored-${i}.db`);
        await restoreBackup({ storage: sb.storage, artifactKey: t.m.artifactKey, keys: new Map([['k', KEY_A]]), tmpDir: sb.tmpDir, targetPath: target, mode: 'new' });
        expect(integrity(target)).toBe('ok');
        const l = ledger(target);
        expect(l.sum).toBe(0);
        expect(l.unbalancedTxs).toBe(0);
        expect(l.entries).toBeGreaterThanOrEqual(t.pre);
        expect(l.entries).toBeLessThanOrEqual(t.post);
      }
      // The writer's commits changed pages between the backups: deltas are not empty.
      expect(taken.slice(1).every((t) => t.m.delta!.changedPages > 0)).toBe(true);
      const v = await verifyBackup({ storage: sb.storage, artifactKey: taken[3]!.m.artifactKey, keys: new Map([['k', KEY_A]]), tmpDir: sb.tmpDir });
      expect(v.integrity).toBe('ok');
      expect(await ls(sb.tmpDir)).toEqual([]);
    }, 180_000);
  }
});
