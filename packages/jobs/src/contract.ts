import { Type, type Static } from '@sinclair/typebox';
import { BACKUP_ID_PATTERN, ID_PATTERN } from '@mfb/client';

/** Every job this system runs. One BullMQ queue per job name (queue name = job name). */
export const JOB_NAMES = ['backup', 'upload', 'prune', 'restore', 'verify'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** Database ids: safe in storage keys, URLs, Redis keys and metric labels. */
export const DatabaseId = Type.String({ pattern: ID_PATTERN, description: 'Database id' });
/** Backup ids as produced by the engine: `20261126T124800123Z-1a2b3c4d`. */
export const BackupId = Type.String({ pattern: BACKUP_ID_PATTERN, description: 'Backup id' });
/** Target names from config; `local` is the primary storage. */
export const TargetName = Type.String({ pattern: ID_PATTERN, description: 'Storage target name' });

export const BackupPayload = Type.Object(
  {
    databaseId: DatabaseId,
    trigger: Type.Union([Type.Literal('manual'), Type.Literal('schedule'), Type.Literal('api')]),
    scheduleId: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const UploadPayload = Type.Object(
  { databaseId: DatabaseId, backupId: BackupId, target: TargetName },
  { additionalProperties: false },
);

export const PrunePayload = Type.Object(
  {
    databaseId: DatabaseId,
    target: TargetName,
    /**
     * Then chain one prune per target of the database, each with its own retention (the
     * scheduled prune sets it; the prunes chained after a backup or upload do not).
     */
    everyTarget: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const RestorePayload = Type.Object(
  {
    databaseId: DatabaseId,
    backupId: BackupId,
    /** Where to read the artifact from; default `local`. */
    from: Type.Optional(TargetName),
    mode: Type.Union([Type.Literal('new'), Type.Literal('replace')]),
    /** Required for `new`; for `replace` defaults to the configured database path. */
    targetPath: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  },
  { additionalProperties: false },
);

export const VerifyPayload = Type.Object(
  {
    databaseId: DatabaseId,
    /** Absent = the newest backup of the database. */
    backupId: Type.Optional(BackupId),
    from: Type.Optional(TargetName),
    /**
     * Restore drill: verify the newest backup of EVERY target of the database (`local` and each
     * configured target) and record the outcome per target (catalog, metrics). Scheduled
     * verifies are drills; `backupId` and `from` are then not allowed.
     */
    drill: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const PAYLOAD_SCHEMAS = {
  backup: BackupPayload,
  upload: UploadPayload,
  prune: PrunePayload,
  restore: RestorePayload,
  verify: VerifyPayload,
} as const;

export interface Payloads {
  backup: Static<typeof BackupPayload>;
  upload: Static<typeof UploadPayload>;
  prune: Static<typeof PrunePayload>;
  restore: Static<typeof RestorePayload>;
  verify: Static<typeof VerifyPayload>;
}
