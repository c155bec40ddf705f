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
 * the artifact holds: the snapshot, or for an incremental backup its changed pages).
 */
export function setBackupSizes(metrics: Pick<Metrics, 'backupSizeBytes' | 'snapshotSizeBytes' | 'compressionRatio'>, m: Pick<Manifest, 'databaseId' | 'artifact' | 'snapshot' | 'kind' | 'delta'>): void {
  const database = m.databaseId;
  metrics.backupSizeBytes.set({ database }, m.artifact.sizeBytes);
  metrics.snapshotSizeBytes.set({ database }, m.snapshot.sizeBytes);
  const payload = m.kind === 'delta' && m.delta ? m.delta.sizeBytes : m.snapshot.sizeBytes;
  if (m.artifact.sizeBytes > 0) metrics.compressionRatio.set({ database }, payload / m.artifact.sizeBytes);
}
