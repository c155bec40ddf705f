import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateFinanceDb } from '@mfb/demo-data';
import { ensurePrivateDirs, type Context } from '../context.js';
import { UsageError } from '../errors.js';
import { bytes, fields, seconds } from '../format.js';
import { runBackup } from './backup.js';
import { runVerify } from './verify.js';

/** The database id the embedded defaults give the generated demo database. */
export const DEMO_DATABASE_ID = 'demo';

/**
 * Prove the system works end to end on this machine, offline: generate the demo finance
 * database if it is missing, back it up into primary storage, record it in the catalog and
 * verify the backup (checksums, authentication, decompression, integrity_check).
 */
export async function runDemo(ctx: Context, o: { sizeMib?: string; database?: string }) {
  const cfg = await ctx.config();
  await ensurePrivateDirs([cfg.dataDir, cfg.tmpDir]);
  const id = o.database ?? (cfg.databases.some((d) => d.id === DEMO_DATABASE_ID) ? DEMO_DATABASE_ID : cfg.databases[0]?.id);
  if (!id) throw new UsageError('no database is configured: add one to the config (see `backupctl init`)');
  const db = await ctx.database(id);
  let generated: { path: string; sizeBytes: number; transactions: number; elapsedMs: number } | null = null;
  if (!existsSync(db.path)) {
    // Only the demo database is ever generated: a missing real database is an error, reported by the backup.
    if (db.demo) {
      const sizeMib = Number(o.sizeMib ?? 16);
      if (!(sizeMib > 0 && sizeMib <= 65536)) throw new UsageError(`--size-mib must be between 1 and 65536 (got "${o.sizeMib}")`);
      await ensurePrivateDirs([dirname(db.path)]);
      ctx.out.note(`generating the demo finance database at ${db.path} (${sizeMib} MiB)...`);
      const g = await generateFinanceDb(db.path, {
        sizeBytes: sizeMib * 1024 * 1024,
        journalMode: 'wal',
        onProgress: (p) => ctx.progress.update({ stage: 'generate', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }),
      });
      ctx.progress.done();
      generated = { path: g.path, sizeBytes: g.sizeBytes, transactions: g.rows.transactions ?? 0, elapsedMs: g.elapsedMs };
    }
  }
  const backup = await runBackup(ctx, db.id, {});
  const verify = await runVerify(ctx, backup.backupId, {});
  return { generated, backup, verify };
}

export function humanDemo(r: Awaited<ReturnType<typeof runDemo>>): string {
  const lines: string[] = [];
  if (r.generated) lines.push(`generated ${r.generated.path}: ${bytes(r.generated.sizeBytes)}, ${r.generated.transactions} transactions in ${seconds(r.generated.elapsedMs)}`);
  lines.push(
    fields([
      ['backup', `${r.backup.backupId} of ${r.backup.databaseId}`],
      ['artifact', `${r.backup.storage.replace(/\/$/, '')}/${r.backup.artifactKey}`],
      ['size', `${bytes(r.backup.artifactBytes)} (snapshot ${bytes(r.backup.snapshotBytes)}, ${r.backup.compression.algorithm}${r.backup.compression.level !== null ? `-${r.backup.compression.level}` : ''}, ${r.backup.encrypted ? `encrypted with key ${r.backup.keyId}` : 'not encrypted'})`],
      ['verified', `OK (checksums, authentication, integrity_check ${r.verify.integrity}; ${Object.keys(r.verify.tables).length} tables)`],
      ['took', `${seconds(r.backup.elapsedMs)} backup + ${seconds(r.verify.elapsedMs)} verify`],
    ]),
  );
  return lines.join('\n');
}
