import { copyBackup, deletePinMarker, manifestKeyFor, writePinMarker } from '@mfb/backup';
import type { BackupRecord } from '@mfb/catalog';
import type { Handler } from '../context.js';
import { BackupNotFoundError, BackupNotOnTargetError } from '../errors.js';

/** Longest chain walked for missing links (a loop guard; the policy keeps chains far shorter). */
const MAX_CHAIN = 1000;

/**
 * Copy a backup from the primary storage to a target (`copyBackup`: artifact proven against
 * the manifest's SHA-256, the pin marker when the backup is pinned, the manifest last), then
 * record the location with the storage class it got, then enqueue the prune of that target.
 * An incremental delta goes after the links of its chain the target lacks (`missingParents`:
 * a target configured mid-chain), each copied and recorded the same way, base first.
 * A source artifact that does not match its manifest fails with STORAGE_CHECKSUM_MISMATCH
 * and nothing is recorded. Idempotent: a complete copy already there is kept, and a re-run
 * whose copy is already on the target (recorded or not) succeeds without the local copy.
 */
export const uploadHandler: Handler<'upload', 'catalog' | 'primary' | 'storageFor' | 'targets' | 'metrics' | 'followUp'> = async (ctx) => {
  const { backupId, target, databaseId } = ctx.payload;
  const rec = await ctx.catalog.getBackup(backupId);
  const local = rec?.locations.find((l) => l.target === 'local' && l.deletedAt === null);
  if (!rec || rec.databaseId !== databaseId) throw new BackupNotFoundError(backupId, { databaseId });
  const dst = ctx.storageFor(target);
  const size = rec.manifest.artifact.sizeBytes;

  // Work already done (a re-run after the copy was stored and recorded, the local copy maybe
  // pruned since): the target holds the complete copy, artifact and manifest. Every put of
  // `copyBackup` was proven against the manifest's SHA-256 when it was written, and the
  // manifest is written last, so an artifact of the right size with its manifest is that copy.
  const recorded = rec.locations.find((l) => l.target === target && l.deletedAt === null);
  if (recorded || !local) {
    const key = recorded?.artifactKey ?? rec.manifest.artifactKey;
    const [artifact, manifest] = await Promise.all([dst.head(key), dst.head(manifestKeyFor(key))]);
    if (artifact && artifact.size === size && manifest) {
      if (!recorded) {
        ctx.fence();
        await ctx.catalog.addLocation(backupId, { target, artifactKey: key, storageClass: artifact.storageClass ?? null });
      }
      ctx.metrics.uploadsTotal.inc({ target, outcome: 'completed' });
      const prune = ctx.followUp('prune', { databaseId, target });
      return { backupId, target, artifactKey: key, sizeBytes: size, storageClass: artifact.storageClass ?? null, alreadyThere: true, prune };
    }
  }
  if (!local) {
    // Retention removed the primary copy before this upload ran: uploads of one database can
    // run out of order (each waits for the database's lock), and once a newer backup reached
    // the target, an older one still waiting counts as made before the target had copies
    // (`pendingUploads` in @mfb/runtime). Retention would not keep it on the target either:
    // nothing to copy, not a failure.
    if (rec.locations.some((l) => l.target === 'local' && l.deletedAt !== null)) {
      ctx.log.warn({ backupId, target }, 'not uploaded: retention deleted the primary copy before this upload ran');
      return { backupId, target, skipped: 'the primary copy was deleted by retention before this upload ran' };
    }
    throw new BackupNotOnTargetError(backupId, 'local');
  }
  const configured = ctx.targets.find((t) => t.name === target)?.options?.storageClass;

  const started = process.hrtime.bigint();
  // A delta restores only with its whole chain on the same target: a target configured (or
  // emptied) mid-chain first gets the links it lacks, full base first, each recorded as a copy.
  const parents: string[] = [];
  for (const p of await missingParents(ctx, rec, target)) {
    const at = p.locations.find((l) => l.target === 'local' && l.deletedAt === null)!;
    const c = await copyBackup(ctx.primary, dst, { ...p.manifest, artifactKey: at.artifactKey }, {
      pinned: p.pinned,
      ...(typeof configured === 'string' ? { storageClass: configured } : {}),
      signal: ctx.signal,
      fence: ctx.fence,
    });
    ctx.fence();
    await ctx.catalog.addLocation(p.backupId, { target, artifactKey: c.artifactKey, storageClass: c.storageClass });
    ctx.metrics.bytesReadTotal.inc({ queue: 'upload' }, p.manifest.artifact.sizeBytes);
    ctx.metrics.bytesWrittenTotal.inc({ queue: 'upload' }, p.manifest.artifact.sizeBytes);
    parents.push(p.backupId);
  }
  if (parents.length) ctx.log.info({ backupId, target, parents }, `uploaded ${parents.length} missing links of the chain first`);
  const copy = await copyBackup(ctx.primary, dst, { ...rec.manifest, artifactKey: local.artifactKey }, {
    pinned: rec.pinned,
    ...(typeof configured === 'string' ? { storageClass: configured } : {}),
    signal: ctx.signal,
    fence: ctx.fence,
    onProgress: (bytesDone) => ctx.progress({ stage: 'store', bytesDone, bytesTotal: size }),
  });
  ctx.metrics.stageDuration.observe({ stage: 'upload' }, Number(process.hrtime.bigint() - started) / 1e9);
  ctx.metrics.bytesReadTotal.inc({ queue: 'upload' }, size);
  ctx.metrics.bytesWrittenTotal.inc({ queue: 'upload' }, size);
  ctx.fence();
  await ctx.catalog.addLocation(backupId, { target, artifactKey: copy.artifactKey, storageClass: copy.storageClass });
  // The API pins and unpins without the database lock, on the copies the catalog lists: a
  // change that landed during this copy did not see it. Re-read once the copy is listed.
  const pinnedNow = (await ctx.catalog.getBackup(backupId))?.pinned ?? rec.pinned;
  ctx.fence();
  if (pinnedNow && !rec.pinned) await writePinMarker(dst, copy.artifactKey, backupId);
  if (!pinnedNow && rec.pinned) await deletePinMarker(dst, copy.artifactKey);
  ctx.metrics.uploadsTotal.inc({ target, outcome: 'completed' });
  const prune = ctx.followUp('prune', { databaseId, target });
  return { backupId, target, artifactKey: copy.artifactKey, sizeBytes: size, storageClass: copy.storageClass, ...(parents.length ? { parents } : {}), prune };
};

/**
 * The links of `rec`'s chain (an incremental delta) that `target` has no live copy of, full
 * base first: from its parent back to the first link the target holds (retention keeps the
 * chain of every kept delta, so everything before that is there too) or to the base. A link
 * whose primary copy is gone cannot be uploaded: the walk stops there with a warning (the
 * delta is uploaded anyway, and its restores from that target fail until the next full).
 */
async function missingParents(ctx: Parameters<typeof uploadHandler>[0], rec: BackupRecord, target: string): Promise<BackupRecord[]> {
  const out: BackupRecord[] = [];
  for (let id = rec.manifest.parentId ?? null; id !== null && out.length <= MAX_CHAIN; ) {
    const p = await ctx.catalog.getBackup(id);
    if (p?.locations.some((l) => l.target === target && l.deletedAt === null)) break;
    if (!p?.locations.some((l) => l.target === 'local' && l.deletedAt === null)) {
      ctx.log.warn({ backupId: rec.backupId, target, parent: id }, 'a link of the chain is on neither the target nor the primary storage: the delta is uploaded without it');
      break;
    }
    out.unshift(p);
    id = p.manifest.parentId ?? null;
  }
  return out;
}

