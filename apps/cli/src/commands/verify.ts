import { verifyBackup } from '@mfb/backup';
import type { Context } from '../context.js';
import { fields, seconds } from '../format.js';
import { withArtifact, type KeyOptions } from '../session.js';

/** Verify a backup: checksums, authentication, decompression, integrity_check; no target touched. */
export async function runVerify(ctx: Context, ref: string, o: KeyOptions) {
  const started = Date.now();
  return withArtifact(ctx, ref, o, async (session) => {
    const res = await verifyBackup(session);
    return {
      ok: true,
      backupId: res.manifest.backupId,
      databaseId: res.manifest.databaseId,
      artifactKey: res.manifest.artifactKey,
      integrity: res.integrity,
      tables: res.tables,
      elapsedMs: Date.now() - started,
    };
  });
}

export function humanVerify(r: Awaited<ReturnType<typeof runVerify>>): string {
  const rows = Object.entries(r.tables).reduce((a, [, n]) => a + n, 0);
  return (
    `OK: backup ${r.backupId} of ${r.databaseId} verified (checksums, authentication, integrity_check ${r.integrity})\n` +
    fields([
      ['artifact', r.artifactKey],
      ['tables', `${Object.keys(r.tables).length} (${rows} rows)`],
      ['took', seconds(r.elapsedMs)],
    ])
  );
}
