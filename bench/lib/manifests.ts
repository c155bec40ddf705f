/** Catalog rows for the API, health and scale benchmarks: well-formed manifests with no backup behind them. */
import type { Manifest } from '@mfb/backup';

/**
 * A formatVersion 1 manifest of `databaseId` made at `createdAt`; `n` makes the id unique (and
 * the artifact size differ) when several share a millisecond.
 */
export function benchManifest(databaseId: string, createdAt: Date, n: number): Manifest {
  const ts = createdAt.toISOString().replace(/[-:]/g, '').replace('.', '');
  const backupId = `${ts.slice(0, 15)}${ts.slice(15, 18)}Z-${n.toString(16).padStart(8, '0')}`;
  return {
    formatVersion: 1,
    backupId,
    databaseId,
    createdAt: createdAt.toISOString(),
    artifactKey: `${databaseId}/${backupId}.sqlite.gz`,
    artifact: { sizeBytes: 1_000_000 + n, sha256: 'a'.repeat(64) },
    snapshot: { sizeBytes: 4_000_000, sha256: 'b'.repeat(64), method: 'vacuum-into', sqlite: { pageSize: 4096, pageCount: 1000, userVersion: 0, journalMode: 'wal' } },
    compression: { algorithm: 'gzip', level: 6 },
    encryption: null,
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  };
}

/** The i-th of a database's backups, one a minute from 2020-01-01. */
export function minutelyManifest(i: number, databaseId: string): Manifest {
  return benchManifest(databaseId, new Date(Date.parse('2020-01-01T00:00:00Z') + i * 60_000), i);
}
