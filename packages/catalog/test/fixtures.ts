/** Shared by the catalog tests: well-formed manifests without a real backup behind them. */
import { createHash } from 'node:crypto';
import type { Manifest } from '@mfb/backup';

let seq = 0;

/** A well-formed v1 manifest (passes the engine's manifestProblems); ids unique per process. */
export function fakeManifest(databaseId: string, createdAt: Date, opts: { size?: number } = {}): Manifest {
  const iso = createdAt.toISOString();
  const stamp = iso.slice(0, 19).replace(/[-:]/g, '') + iso.slice(20, 23) + 'Z';
  const backupId = `${stamp}-${(seq++).toString(16).padStart(8, '0')}`;
  const h = (s: string): string => createHash('sha256').update(s).digest('hex');
  return {
    formatVersion: 1,
    backupId,
    databaseId,
    createdAt: iso,
    artifactKey: `${databaseId}/${backupId}.sqlite.gz`,
    artifact: { sizeBytes: opts.size ?? 1000, sha256: h('a' + backupId) },
    snapshot: {
      sizeBytes: 4096,
      sha256: h('s' + backupId),
      method: 'vacuum-into',
      sqlite: { pageSize: 4096, pageCount: 1, userVersion: 0, journalMode: 'wal' },
    },
    compression: { algorithm: 'gzip', level: 6 },
    encryption: null,
    tool: { name: 'myfinance-backup', version: '0.1.0' },
  };
}
