import { describe, expect, it } from 'vitest';
import type { Manifest } from '@mfb/backup';
import { Registry, createMetrics } from '@mfb/observability';
import { setBackupSizes } from '../src/job-metrics.js';

const snapshot = (pageCount: number): Manifest['snapshot'] => ({ sizeBytes: pageCount * 4096, sha256: 'b'.repeat(64), method: 'backup-api', sqlite: { pageSize: 4096, pageCount, userVersion: 0, journalMode: 'wal' } });

async function scrape(m: Parameters<typeof setBackupSizes>[1]): Promise<string> {
  const metrics = createMetrics(new Registry());
  setBackupSizes(metrics, m);
  return metrics.registry.metrics();
}

describe('incremental chain metrics of the newest backup', () => {
  it('a delta: base and delta bytes by kind, chain length, changed-page ratio', async () => {
    const text = await scrape({
      databaseId: 'fin',
      artifact: { sizeBytes: 3000, sha256: 'a'.repeat(64) },
      snapshot: snapshot(1000),
      kind: 'delta',
      delta: { sizeBytes: 50 * 4100, sha256: 'c'.repeat(64), changedPages: 50 },
      chain: { baseId: '20261201T110000000Z-00000001', baseArtifactBytes: 400_000, deltaArtifactBytes: 9000 },
      chainLength: 3,
    });
    expect(text).toContain('mfb_backup_chain_bytes{database="fin",kind="full"} 400000');
    expect(text).toContain('mfb_backup_chain_bytes{database="fin",kind="delta"} 9000');
    expect(text).toContain('mfb_backup_chain_length{database="fin"} 3');
    expect(text).toContain('mfb_backup_changed_page_ratio{database="fin"} 0.05');
  });

  it('a formatVersion 1 backup is a chain of one full: every page changed', async () => {
    const text = await scrape({ databaseId: 'old', artifact: { sizeBytes: 1234, sha256: 'a'.repeat(64) }, snapshot: snapshot(10) });
    expect(text).toContain('mfb_backup_chain_bytes{database="old",kind="full"} 1234');
    expect(text).toContain('mfb_backup_chain_bytes{database="old",kind="delta"} 0');
    expect(text).toContain('mfb_backup_chain_length{database="old"} 0');
    expect(text).toContain('mfb_backup_changed_page_ratio{database="old"} 1');
  });
});
