import type { Manifest, StageTimings } from '@mfb/backup';
import type { Metrics, Stage } from '@mfb/observability';

/** Engine timing fields -> `stage` label of `mfb_stage_duration_seconds`. */
const STAGE_OF: Record<keyof StageTimings, Stage> = {
  snapshot: 'snapshot',
  compressEncrypt: 'compress_encrypt',
  store: 'store',
  download: 'download',
  restoreCheck: 'restore_check',
};

/** Observe the stage timings the engine reported for one run. */
export function observeStages(metrics: Pick<Metrics, 'stageDuration'>, timings: StageTimings): void {
  for (const [k, seconds] of Object.entries(timings) as Array<[keyof StageTimings, number | undefined]>) {
    if (seconds !== undefined) metrics.stageDuration.observe({ stage: STAGE_OF[k] }, seconds);
  }
}

/**
 * Sizes of a database's newest backup: artifact, snapshot and the compression ratio (of what
 * the artifact holds: the snapshot, or for an incremental backup its changed pages), and its
 * chain: stored bytes of the base and of the deltas, length, changed-page ratio (a
 * formatVersion 1 backup is a chain of one full).
 */
export function setBackupSizes(
  metrics: Pick<Metrics, 'backupSizeBytes' | 'snapshotSizeBytes' | 'compressionRatio' | 'chainBytes' | 'chainLength' | 'changedPageRatio'>,
  m: Pick<Manifest, 'databaseId' | 'artifact' | 'snapshot' | 'kind' | 'delta' | 'chain' | 'chainLength'>,
): void {
  const database = m.databaseId;
  metrics.backupSizeBytes.set({ database }, m.artifact.sizeBytes);
  metrics.snapshotSizeBytes.set({ database }, m.snapshot.sizeBytes);
  const delta = m.kind === 'delta' && m.delta ? m.delta : null;
  const payload = delta ? delta.sizeBytes : m.snapshot.sizeBytes;
  if (m.artifact.sizeBytes > 0) metrics.compressionRatio.set({ database }, payload / m.artifact.sizeBytes);
  metrics.chainBytes.set({ database, kind: 'full' }, m.chain?.baseArtifactBytes ?? m.artifact.sizeBytes);
  metrics.chainBytes.set({ database, kind: 'delta' }, m.chain?.deltaArtifactBytes ?? 0);
  metrics.chainLength.set({ database }, m.chainLength ?? 0);
  const pages = m.snapshot.sqlite.pageCount;
  metrics.changedPageRatio.set({ database }, delta ? (pages > 0 ? delta.changedPages / pages : 0) : 1);
}
