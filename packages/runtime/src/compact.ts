import { compactBackup, copyBackup, UnknownKeyIdError, type KeyRing, type Manifest, type Progress } from '@mfb/backup';
import type { BackupRecord, Catalog } from '@mfb/catalog';
import type { DatabaseConfig, TargetConfig } from '@mfb/config';
import { BackupNotFoundError } from '@mfb/errors';
import type { StorageDriver } from '@mfb/storage';
import { PENDING_UPLOAD_RULE, planTargetRetention, type RetentionPlanView } from './retention.js';

export interface CompactDeps {
  catalog: Catalog;
  storageFor(target: string): StorageDriver;
  keys: KeyRing;
  tmpDir: string;
}

export interface CompactRecordedOptions {
  signal?: AbortSignal;
  fence?: () => void;
  onProgress?: (p: Progress) => void;
}

export interface CompactRecordedResult {
  /** The delta compacted. */
  from: string;
  /** The new full (or the one an earlier compaction of `from` made). */
  backupId: string;
  manifest: Manifest;
  /** Targets the new full is stored on (the one read first). */
  targets: string[];
  /** An earlier compaction of `from` was found: nothing done. */
  already: boolean;
  /** Stored bytes of the chain the delta needed (base + deltas up to it), and of the new full. */
  chainBytes: number;
  fullBytes: number;
}

/**
 * The compaction of a recorded delta (`backupctl compact`, and the worker's `compactAfter`):
 * `compactBackup` on the first storage that holds the delta (primary storage first), the new
 * full recorded in the catalog, then a proven copy of it (`copyBackup`) to every other target
 * that holds the delta, each recorded as a location. The old chain stays; retention deletes
 * what nothing needs any more (docs/retention.md, "Compaction"). The database's configured
 * compression and key are used. Idempotent: a recorded compaction of the delta is returned
 * (and copied to targets that got the delta since).
 * The caller holds the per-database lock.
 */
export async function compactRecorded(deps: CompactDeps, db: DatabaseConfig, rec: BackupRecord, opts: CompactRecordedOptions = {}): Promise<CompactRecordedResult> {
  const live = rec.locations
    .filter((l) => l.deletedAt === null)
    .sort((a, b) => (a.target === 'local' ? -1 : b.target === 'local' ? 1 : a.target.localeCompare(b.target)));
  if (!live.length) throw new BackupNotFoundError(rec.backupId, { databaseId: db.id });
  const chainBytes = (rec.manifest.chain?.baseArtifactBytes ?? rec.manifest.artifact.sizeBytes) + (rec.manifest.chain?.deltaArtifactBytes ?? 0);
  const earlier = await findCompaction(deps.catalog, db.id, rec);
  if (earlier) {
    // Targets that got the delta after the compaction get the full too.
    const has = earlier.locations.filter((l) => l.deletedAt === null);
    const from = has.find((l) => l.target === 'local') ?? has[0];
    const targets = has.map((l) => l.target);
    for (const l of from ? live.filter((x) => !targets.includes(x.target)) : []) {
      await copyTo(deps, deps.storageFor(from!.target), { ...earlier.manifest, artifactKey: from!.artifactKey }, l.target, opts);
      targets.push(l.target);
    }
    return { from: rec.backupId, backupId: earlier.backupId, manifest: earlier.manifest, targets, already: true, chainBytes, fullBytes: earlier.manifest.artifact.sizeBytes };
  }
  const keyId = db.encryptionKeyId;
  const key = keyId === undefined ? undefined : deps.keys.get(keyId);
  if (keyId !== undefined && key === undefined) throw new UnknownKeyIdError(keyId);
  const [first, ...rest] = live;
  const src = deps.storageFor(first!.target);
  const res = await compactBackup({
    storage: src,
    artifactKey: first!.artifactKey,
    keys: deps.keys,
    compression: { algorithm: db.compression.algorithm, level: db.compression.level },
    ...(keyId !== undefined && key !== undefined ? { encryption: { keyId, key } } : {}),
    tmpDir: deps.tmpDir,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.fence ? { fence: opts.fence } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const m = res.manifest;
  opts.fence?.();
  await deps.catalog.recordBackup(m, { target: first!.target, artifactKey: m.artifactKey });
  const targets = [first!.target];
  for (const l of rest) {
    await copyTo(deps, src, m, l.target, opts);
    targets.push(l.target);
  }
  return { from: rec.backupId, backupId: m.backupId, manifest: m, targets, already: false, chainBytes, fullBytes: m.artifact.sizeBytes };
}

/** A proven copy of the backup `m` (in `src`) to `target`, recorded in the catalog. */
async function copyTo(deps: CompactDeps, src: StorageDriver, m: Manifest, target: string, opts: CompactRecordedOptions): Promise<void> {
  const copy = await copyBackup(src, deps.storageFor(target), m, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.fence ? { fence: opts.fence } : {}),
  });
  opts.fence?.();
  await deps.catalog.addLocation(m.backupId, { target, artifactKey: copy.artifactKey, storageClass: copy.storageClass });
}

/** A live backup of the same instant compacted from `rec` (its id sorts right after). */
async function findCompaction(catalog: Catalog, databaseId: string, rec: BackupRecord): Promise<BackupRecord | null> {
  const at = Date.parse(rec.createdAt);
  const around = { createdAfter: new Date(at - 1).toISOString(), createdBefore: new Date(at + 1).toISOString() };
  const page = await catalog.listBackups({ databaseId, status: 'available', ...around, limit: 50 });
  return page.items.find((b) => b.manifest.compactedFrom === rec.backupId) ?? null;
}

/** At most this many compactions per prune (each rebuilds and stores a full: bounded work per job). */
export const MAX_COMPACTIONS_PER_PRUNE = 3;

/**
 * The deltas whose compaction lets retention delete a chain (`incremental.compactOnPrune`):
 * kept by a rule of their own (not only `needed by`), not pinned, not the newest backup (whose
 * chain the next backup continues), not compacted already, and every link of their chain is
 * kept ONLY because of them (`needed by <that delta>`, no rule of its own). Compacted, such a
 * delta is replaced by a full and its whole chain goes at this prune. Oldest first.
 */
export function compactionCandidates(plan: RetentionPlanView, records: readonly BackupRecord[]): BackupRecord[] {
  const item = new Map(plan.items.map((i) => [i.backupId, i]));
  const rec = new Map(records.map((r) => [r.backupId, r]));
  const compacted = new Set(records.map((r) => r.manifest.compactedFrom).filter((x): x is string => typeof x === 'string'));
  const newest = plan.items[0]?.backupId;
  const out: BackupRecord[] = [];
  for (const r of records) {
    const i = item.get(r.backupId);
    if (!i || i.action !== 'keep' || r.manifest.kind !== 'delta' || r.pinned || r.backupId === newest || compacted.has(r.backupId)) continue;
    if (!i.rules.some((x) => x !== PENDING_UPLOAD_RULE)) continue;
    let only = true;
    for (let p = r.manifest.parentId ?? null; p !== null; p = rec.get(p)?.manifest.parentId ?? null) {
      const link = item.get(p);
      if (!link || link.action !== 'keep' || link.rules.length !== 0 || link.reasons.join() !== `needed by ${r.backupId}`) {
        only = false;
        break;
      }
    }
    if (only) out.push(r);
  }
  return out.reverse();
}

/**
 * Before a prune of the primary storage with `incremental.compactOnPrune`: compact the
 * {@link compactionCandidates} (at most {@link MAX_COMPACTIONS_PER_PRUNE}), so the prune that
 * follows deletes their chains. Returns the compactions made. The caller holds the lock.
 */
export async function compactForRetention(
  deps: CompactDeps & { config: { readonly targets: readonly TargetConfig[] } },
  db: DatabaseConfig,
  now: Date,
  opts: CompactRecordedOptions = {},
): Promise<CompactRecordedResult[]> {
  const { view } = await planTargetRetention(deps, db, 'local', now);
  const records: BackupRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.catalog.listBackups({ databaseId: db.id, target: 'local', status: 'available', limit: 500, ...(cursor ? { cursor } : {}) });
    records.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const done: CompactRecordedResult[] = [];
  for (const r of compactionCandidates(view, records).slice(0, MAX_COMPACTIONS_PER_PRUNE)) {
    opts.signal?.throwIfAborted();
    done.push(await compactRecorded(deps, db, r, opts));
  }
  return done;
}
