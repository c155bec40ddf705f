import type { BackupRecord, ScheduleRecord } from '@mfb/catalog';
import type { DatabaseConfig } from '@mfb/config';
import type { BackupDetail, BackupSummary, DatabaseSummary, Schedule } from '@mfb/client';
import { describeSchedule } from './cron.js';

const enc = encodeURIComponent;

export function backupUrl(databaseId: string, backupId: string): string {
  return `/v1/databases/${enc(databaseId)}/backups/${enc(backupId)}`;
}

export function jobUrl(jobId: string): string {
  return `/v1/jobs/${enc(jobId)}`;
}

export function backupSummary(r: BackupRecord): BackupSummary {
  return {
    backupId: r.backupId,
    databaseId: r.databaseId,
    createdAt: r.createdAt,
    sizeBytes: r.sizeBytes,
    pinned: r.pinned,
    status: r.locations.some((l) => l.deletedAt === null) ? 'available' : 'deleted',
    locations: r.locations.map((l) => ({ target: l.target, artifactKey: l.artifactKey, storedAt: l.storedAt, storageClass: l.storageClass, deletedAt: l.deletedAt })),
    downloadUrl: `${backupUrl(r.databaseId, r.backupId)}/artifact`,
    kind: r.manifest.kind ?? 'full',
    parentId: r.manifest.parentId ?? null,
    chainLength: r.manifest.chainLength ?? 0,
    compactedFrom: r.manifest.compactedFrom ?? null,
  };
}

export function backupDetail(r: BackupRecord): BackupDetail {
  return { ...backupSummary(r), manifest: r.manifest as BackupDetail['manifest'] };
}

export function databaseSummary(d: DatabaseConfig): DatabaseSummary {
  return {
    id: d.id,
    targets: [...d.targets],
    compression: { algorithm: d.compression.algorithm, level: d.compression.level },
    encrypted: d.encryptionKeyId !== undefined,
  };
}

export function scheduleView(s: ScheduleRecord, now: Date): Schedule {
  const next = s.paused ? null : describeSchedule(s.cron, s.timezone, now);
  return {
    databaseId: s.databaseId,
    scheduleId: s.scheduleId,
    job: s.job,
    cron: s.cron,
    timezone: s.timezone,
    paused: s.paused,
    origin: s.origin,
    updatedAt: s.updatedAt,
    nextRunAt: next ? next.nextRunAt.toISOString() : null,
  };
}
