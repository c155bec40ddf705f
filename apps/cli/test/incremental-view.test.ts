import { describe, expect, it } from 'vitest';
import type { Manifest } from '@mfb/backup';
import { backupSummary, humanBackup } from '../src/commands/backup.js';
import { humanList } from '../src/commands/list.js';

const base: Manifest = {
  formatVersion: 2,
  backupId: '20261201T120000000Z-00000002',
  databaseId: 'fin',
  createdAt: '2026-12-01T12:00:00.000Z',
  artifactKey: 'fin/20261201T120000000Z-00000002.delta.zst',
  artifact: { sizeBytes: 1000, sha256: 'a'.repeat(64) },
  snapshot: { sizeBytes: 4096 * 10, sha256: 'b'.repeat(64), method: 'backup-api', sqlite: { pageSize: 4096, pageCount: 10, userVersion: 0, journalMode: 'wal' } },
  compression: { algorithm: 'zstd', level: 3 },
  encryption: null,
  tool: { name: 'myfinance-backup', version: '0.1.0' },
  kind: 'delta',
  parentId: '20261201T110000000Z-00000001',
  chainLength: 2,
};

describe('CLI views of incremental backups', () => {
  it('backup summary and its human form name the kind, parent and chain length', () => {
    const s = backupSummary(base, 'file:///b', 10);
    expect(s).toMatchObject({ kind: 'delta', parentId: '20261201T110000000Z-00000001', chainLength: 2 });
    expect(humanBackup(s)).toContain('delta of 20261201T110000000Z-00000001 (chain length 2)');
    const v1 = backupSummary({ ...base, formatVersion: 1, kind: undefined, parentId: undefined, chainLength: undefined } as Manifest, 'file:///b', 10);
    expect(v1).toMatchObject({ kind: 'full', parentId: null, chainLength: 0 });
  });

  it('list shows KIND: full or delta+N', () => {
    const item = { backupId: base.backupId, databaseId: 'fin', createdAt: base.createdAt, sizeBytes: 1000, pinned: false, compression: base.compression, encrypted: false, locations: [], compactedFrom: null };
    const out = humanList({
      items: [
        { ...item, kind: 'delta', parentId: base.parentId!, chainLength: 2 },
        { ...item, backupId: base.parentId!, kind: 'full', parentId: null, chainLength: 0 },
      ],
    });
    expect(out).toContain('KIND');
    expect(out).toContain('PARENT');
    expect(out).toMatch(/delta\+2 +20261201T110000000Z-00000001/);
    expect(out.split('\n')[2]).toMatch(/\bfull +- /);
  });
});
