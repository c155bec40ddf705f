/**
 * The HTTP contract of the API, as TypeBox schemas.
 *
 * This package owns them so that the API (which validates and serializes with them and
 * publishes them as OpenAPI) and every client (which derives its types from them) share one
 * source, while the client stays free of server dependencies (no BullMQ, no SQLite).
 * The id patterns come from `./rules.ts`, as do those of `@mfb/jobs` and `@mfb/config`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BACKUP_ID_PATTERN, ID_PATTERN } from './rules.js';

export const DatabaseIdSchema = Type.String({ pattern: ID_PATTERN, description: 'Database id' });
export const BackupIdSchema = Type.String({ pattern: BACKUP_ID_PATTERN, description: 'Backup id' });
export const TargetNameSchema = Type.String({ pattern: ID_PATTERN, description: 'Storage target name (`local` = primary storage)' });
export const ScheduleIdSchema = Type.String({ pattern: ID_PATTERN, description: 'Schedule id, unique per database' });
/** BullMQ job ids: generated numbers or the jobs package's deterministic ids. */
export const JobIdSchema = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,199}$', description: 'Job id' });
export const Timestamp = Type.String({ format: 'date-time', maxLength: 40, description: 'ISO-8601 instant' });

// ---------------------------------------------------------------------------------------
// Errors

/** RFC 9457 problem details, plus a stable machine `code`. Content type `application/problem+json`. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI identifying the problem type (`about:blank` or a docs anchor)' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable error code, e.g. `VALIDATION_FAILED`' }),
    instance: Type.String({ description: 'The request path, or `urn:uuid:<requestId>` for errors answered before routing (malformed HTTP, timeouts)' }),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false })),
    ),
  },
  { additionalProperties: false },
);
export type Problem = Static<typeof ProblemSchema>;

// ---------------------------------------------------------------------------------------
// Params

/** Routes without query options reject any query parameter. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

export const DatabaseParams = Type.Object({ databaseId: DatabaseIdSchema }, { additionalProperties: false });
export const BackupParams = Type.Object({ databaseId: DatabaseIdSchema, backupId: BackupIdSchema }, { additionalProperties: false });
export const ScheduleParams = Type.Object({ databaseId: DatabaseIdSchema, scheduleId: ScheduleIdSchema }, { additionalProperties: false });
export const JobParams = Type.Object({ jobId: JobIdSchema }, { additionalProperties: false });

// ---------------------------------------------------------------------------------------
// Backups

export const ManifestSchema = Type.Object(
  {
    formatVersion: Type.Integer(),
    backupId: Type.String(),
    databaseId: Type.String(),
    createdAt: Type.String(),
    artifactKey: Type.String(),
    artifact: Type.Object({ sizeBytes: Type.Integer(), sha256: Type.String() }),
    snapshot: Type.Object({
      sizeBytes: Type.Integer(),
      sha256: Type.String(),
      method: Type.String(),
      sqlite: Type.Object({
        pageSize: Type.Integer(),
        pageCount: Type.Integer(),
        userVersion: Type.Integer(),
        journalMode: Type.String(),
      }),
    }),
    compression: Type.Object({ algorithm: Type.String(), level: Type.Union([Type.Integer(), Type.Null()]) }),
    encryption: Type.Union([
      Type.Object({ algorithm: Type.String(), keyId: Type.String(), chunkSize: Type.Integer() }),
      Type.Null(),
    ]),
    tool: Type.Object({ name: Type.String(), version: Type.String() }),
  },
  { description: 'The manifest stored beside the artifact (see docs/backup-format.md)', additionalProperties: true },
);
export type ManifestView = Static<typeof ManifestSchema>;

export const BackupLocationSchema = Type.Object({
  target: Type.String(),
  artifactKey: Type.String(),
  storedAt: Type.String(),
  /** Provider storage class of the copy (`STANDARD_IA`, `NEARLINE`, `Cool`); null where the provider has none. */
  storageClass: Type.Union([Type.String(), Type.Null()]),
  deletedAt: Type.Union([Type.String(), Type.Null()]),
});

export const BackupSummarySchema = Type.Object(
  {
    backupId: Type.String(),
    databaseId: Type.String(),
    createdAt: Type.String(),
    sizeBytes: Type.Integer(),
    pinned: Type.Boolean(),
    status: Type.Union([Type.Literal('available'), Type.Literal('deleted')]),
    locations: Type.Array(BackupLocationSchema),
    downloadUrl: Type.String(),
    kind: Type.Union([Type.Literal('full'), Type.Literal('delta')], {
      description: '`full`, or `delta`: an incremental backup storing only the pages changed since `parentId` (docs/backup-format.md section 6)',
    }),
    parentId: Type.Union([Type.String(), Type.Null()], { description: 'The backup a delta applies to; null for a full' }),
    chainLength: Type.Integer({ minimum: 0, description: 'Deltas between this backup and its full base (0 for a full): a restore reads the base and this many deltas' }),
    compactedFrom: Type.Union([Type.String(), Type.Null()], { description: 'A full made by `backupctl compact` from this delta (same snapshot and time); null otherwise' }),
  },
);
export type BackupSummary = Static<typeof BackupSummarySchema>;

export const BackupDetailSchema = Type.Intersect([BackupSummarySchema, Type.Object({ manifest: ManifestSchema })]);
export type BackupDetail = Static<typeof BackupDetailSchema>;

export const ListBackupsQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('available'), Type.Literal('deleted')])),
    target: Type.Optional(TargetNameSchema),
    createdAfter: Type.Optional(Timestamp),
    createdBefore: Type.Optional(Timestamp),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_=-]+$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
export type ListBackupsQuery = Static<typeof ListBackupsQuery>;

export const BackupPageSchema = Type.Object({
  items: Type.Array(BackupSummarySchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type BackupPage = Static<typeof BackupPageSchema>;

export const TriggerBackupBody = Type.Object(
  {
    at: Type.Optional(
      Type.String({ format: 'date-time', maxLength: 40, description: 'Run at this instant instead of now (must not be more than 30 days ahead)' }),
    ),
  },
  { additionalProperties: false },
);
export type TriggerBackupBody = Static<typeof TriggerBackupBody>;

export const DownloadQuery = Type.Object(
  { target: Type.Optional(TargetNameSchema) },
  { additionalProperties: false },
);

export const DeleteBackupQuery = Type.Object(
  {
    target: Type.Optional(
      Type.Array(TargetNameSchema, {
        minItems: 1,
        maxItems: 64,
        uniqueItems: true,
        description: 'Delete only the copies on these targets (`?target=a&target=b`); absent: every copy',
      }),
    ),
  },
  { additionalProperties: false },
);
export type DeleteBackupQuery = Static<typeof DeleteBackupQuery>;

// ---------------------------------------------------------------------------------------
// Enqueue answers

export const AcceptedSchema = Type.Object({
  jobId: Type.String(),
  queue: Type.String(),
  statusUrl: Type.String({ description: 'Poll this URL (GET) for the job state' }),
  /** True when an identical job was already waiting: this is that job. */
  deduplicated: Type.Boolean(),
  /** When the job is due (ISO); absent = as soon as a worker is free. */
  runAt: Type.Optional(Type.String()),
});
export type Accepted = Static<typeof AcceptedSchema>;

export const RestoreBody = Type.Object(
  {
    backupId: BackupIdSchema,
    mode: Type.Union([Type.Literal('new'), Type.Literal('replace')], {
      description: '`new`: restore into `targetPath`, which must not exist. `replace`: restore in place (a safety copy is kept).',
    }),
    targetPath: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Absolute path (required for `new`)' })),
    from: Type.Optional(TargetNameSchema),
  },
  { additionalProperties: false },
);
export type RestoreBody = Static<typeof RestoreBody>;

export const CatalogRebuildBody = Type.Object(
  {
    from: Type.Optional(TargetNameSchema),
    markMissing: Type.Optional(
      Type.Boolean({ description: 'Also mark copies on `from` that the catalog lists but storage no longer has as deleted (default false)' }),
    ),
  },
  { additionalProperties: false },
);
export type CatalogRebuildBody = Static<typeof CatalogRebuildBody>;

export const CatalogRebuildReportSchema = Type.Object(
  {
    target: Type.String({ description: 'The target rebuilt from (`local` = primary storage)' }),
    storage: Type.String({ description: 'Its URL, credentials removed' }),
    scanned: Type.Integer({ description: 'Manifests found' }),
    added: Type.Integer({ description: 'Backups the catalog did not know' }),
    updated: Type.Integer({ description: 'Known backups whose copy there was (re)recorded as live' }),
    markedDeleted: Type.Integer(),
    pinsRestored: Type.Integer({ description: 'Backups pinned again because a pin marker sits beside them' }),
    skipped: Type.Array(Type.Object({ key: Type.String(), reason: Type.String() }), { description: 'Unreadable manifests, missing artifacts' }),
  },
  { additionalProperties: false },
);
export type CatalogRebuildReport = Static<typeof CatalogRebuildReportSchema>;

export const VerifyBody = Type.Object(
  {
    backupId: Type.Optional(BackupIdSchema),
    from: Type.Optional(TargetNameSchema),
    drill: Type.Optional(
      Type.Boolean({ description: 'Run a restore drill now: the newest backup of every target, outcome recorded per target (`backupId` and `from` not allowed)' }),
    ),
  },
  { additionalProperties: false },
);
export type VerifyBody = Static<typeof VerifyBody>;

// ---------------------------------------------------------------------------------------
// Databases

export const DatabaseSummarySchema = Type.Object({
  id: Type.String(),
  targets: Type.Array(Type.String()),
  compression: Type.Object({ algorithm: Type.String(), level: Type.Integer() }),
  encrypted: Type.Boolean(),
});
export type DatabaseSummary = Static<typeof DatabaseSummarySchema>;

export const DatabaseHealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('stale'), Type.Literal('never'), Type.Literal('unscheduled')], {
    description: '`ok`: last backup younger than twice the schedule interval; `stale`: older; `never`: no backup yet; `unscheduled`: backups exist but no active backup schedule',
  }),
  lastBackupAt: Type.Union([Type.String(), Type.Null()]),
  ageSeconds: Type.Union([Type.Number(), Type.Null()]),
  expectedIntervalSeconds: Type.Union([Type.Number(), Type.Null()]),
});
export type DatabaseHealth = Static<typeof DatabaseHealthSchema>;

/** The last restore drill of a database on one target (docs/operations.md "Restore drills"). */
export const RestoreDrillSchema = Type.Object({
  target: Type.String({ description: '`local` = primary storage' }),
  lastRunAt: Type.String(),
  lastOutcome: Type.Union([Type.Literal('ok'), Type.Literal('failed')]),
  lastBackupId: Type.Union([Type.String(), Type.Null()]),
  lastErrorCode: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastVerifiedAt: Type.Union([Type.String(), Type.Null()], { description: 'Last verified restore: the last drill that succeeded' }),
  lastVerifiedBackupId: Type.Union([Type.String(), Type.Null()]),
});
export type RestoreDrill = Static<typeof RestoreDrillSchema>;

export const DatabaseDetailSchema = Type.Intersect([
  DatabaseSummarySchema,
  Type.Object({
    lastBackup: Type.Union([BackupSummarySchema, Type.Null()]),
    health: DatabaseHealthSchema,
    /** One entry per target (`local` first) that had a drill. */
    restoreDrills: Type.Array(RestoreDrillSchema),
  }),
]);
export type DatabaseDetail = Static<typeof DatabaseDetailSchema>;

export const DatabaseListSchema = Type.Object({ items: Type.Array(DatabaseSummarySchema) });

// ---------------------------------------------------------------------------------------
// Schedules

const JobKind = Type.Union([Type.Literal('backup'), Type.Literal('verify'), Type.Literal('prune')]);
const Cron = Type.String({ minLength: 1, maxLength: 120, description: 'Cron pattern, 5 or 6 fields' });
const TimeZone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. `Europe/Berlin`' });

export const ScheduleSchema = Type.Object({
  databaseId: Type.String(),
  scheduleId: Type.String(),
  job: Type.String(),
  cron: Type.String(),
  timezone: Type.String(),
  paused: Type.Boolean(),
  origin: Type.String(),
  updatedAt: Type.String(),
  nextRunAt: Type.Union([Type.String(), Type.Null()]),
});
export type Schedule = Static<typeof ScheduleSchema>;

export const ScheduleListSchema = Type.Object({ items: Type.Array(ScheduleSchema) });

export const ScheduleListQuery = Type.Object({ databaseId: Type.Optional(DatabaseIdSchema) }, { additionalProperties: false });

export const CreateScheduleBody = Type.Object(
  {
    scheduleId: ScheduleIdSchema,
    cron: Cron,
    timezone: Type.Optional(TimeZone),
    job: Type.Optional(JobKind),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateScheduleBody = Static<typeof CreateScheduleBody>;

export const UpdateScheduleBody = Type.Object(
  {
    cron: Type.Optional(Cron),
    timezone: Type.Optional(TimeZone),
    job: Type.Optional(JobKind),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateScheduleBody = Static<typeof UpdateScheduleBody>;

// ---------------------------------------------------------------------------------------
// Jobs

export const JobStateSchema = Type.Union([
  Type.Literal('waiting'),
  Type.Literal('delayed'),
  Type.Literal('prioritized'),
  Type.Literal('waiting-children'),
  Type.Literal('active'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('unknown'),
]);
export type JobState = Static<typeof JobStateSchema>;

export const JobSchema = Type.Object({
  id: Type.String(),
  queue: Type.String(),
  name: Type.String(),
  state: JobStateSchema,
  progress: Type.Unknown({ description: 'Number 0..100 or the engine progress object `{stage, bytesDone, bytesTotal}`' }),
  attemptsMade: Type.Integer(),
  maxAttempts: Type.Integer(),
  failedReason: Type.Union([Type.String(), Type.Null()]),
  data: Type.Unknown(),
  result: Type.Unknown(),
  createdAt: Type.Union([Type.String(), Type.Null()]),
  processedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  runAt: Type.Union([Type.String(), Type.Null()]),
  lock: Type.Optional(
    Type.Object(
      {
        acquiredAt: Type.Union([Type.String(), Type.Null()]),
        releasedAt: Type.Union([Type.String(), Type.Null()]),
      },
      { description: 'When the finished run held its database lock (from the job history; absent while the job has not finished)' },
    ),
  ),
});
export type JobView = Static<typeof JobSchema>;

// ---------------------------------------------------------------------------------------
// Health

export const LivenessSchema = Type.Object({ status: Type.Literal('ok') });
export const ReadinessSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  checks: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('fail')])),
});
export type Readiness = Static<typeof ReadinessSchema>;

// ---------------------------------------------------------------------------------------
// Retention and storage usage

const Count = Type.Integer({ minimum: 0 });

/** A retention policy as configured (docs/retention.md); `maxTotalBytes` in bytes. */
export const RetentionPolicySchema = Type.Object(
  {
    keepLast: Type.Optional(Count),
    keepHourly: Type.Optional(Count),
    keepDaily: Type.Optional(Count),
    keepWeekly: Type.Optional(Count),
    keepMonthly: Type.Optional(Count),
    keepYearly: Type.Optional(Count),
    keepWithin: Type.Optional(Type.String({ description: 'Duration such as `30d`, `1y2m`' })),
    maxAge: Type.Optional(Type.String({ description: 'Duration such as `90d`' })),
    maxTotalBytes: Type.Optional(Type.Integer({ minimum: 1 })),
    minKeep: Type.Optional(Count),
    timezone: Type.Optional(Type.String({ description: 'IANA time zone of the calendar buckets (default `UTC`)' })),
  },
  { additionalProperties: false, description: 'The retention policy that applies to this database on this target' },
);
export type RetentionPolicyView = Static<typeof RetentionPolicySchema>;

export const RetentionQuery = Type.Object(
  { target: Type.Optional(TargetNameSchema) },
  { additionalProperties: false },
);
export type RetentionQuery = Static<typeof RetentionQuery>;

export const RetentionPlanItemSchema = Type.Object({
  backupId: Type.String(),
  createdAt: Type.String(),
  ageSeconds: Type.Integer({ minimum: 0 }),
  sizeBytes: Type.Integer({ minimum: 0 }),
  pinned: Type.Boolean(),
  action: Type.Union([Type.Literal('keep'), Type.Literal('delete')]),
  reasons: Type.Array(Type.String(), { description: 'Every rule that keeps it, or the one reason it goes (docs/retention.md#reasons)' }),
  rules: Type.Array(Type.String(), { description: 'Machine-readable: keep rules (`newest`, `keepDaily`...), the delete rule (`maxAge`, `maxTotalBytes`, `compacted`, `none`) or `pendingUpload`' }),
});
export type RetentionPlanItem = Static<typeof RetentionPlanItemSchema>;

export const RetentionPlanSchema = Type.Object({
  databaseId: Type.String(),
  target: Type.String(),
  policy: RetentionPolicySchema,
  plannedAt: Type.String(),
  items: Type.Array(RetentionPlanItemSchema, { description: 'Live copies on the target, newest first' }),
  totals: Type.Object({
    backups: Count,
    kept: Count,
    deleted: Count,
    keptBytes: Count,
    deletedBytes: Count,
    maxTotalBytes: Type.Optional(Type.Integer()),
    overBudgetBytes: Type.Integer({ minimum: 0, description: 'How far the kept total still exceeds `maxTotalBytes` (pins, `minKeep`, the newest cannot go)' }),
    pendingUpload: Type.Integer({ minimum: 0, description: 'Kept in primary storage only because an upload to a target is still pending' }),
  }),
});
export type RetentionPlan = Static<typeof RetentionPlanSchema>;

export const StorageUsageSchema = Type.Object({
  databaseId: Type.String(),
  target: Type.String({ description: '`local` = primary storage' }),
  backups: Type.Integer({ minimum: 0, description: 'Live copies on the target' }),
  bytes: Type.Integer({ minimum: 0, description: 'Sum of their artifact sizes' }),
});
export type StorageUsageView = Static<typeof StorageUsageSchema>;

export const UsageQuery = Type.Object({ databaseId: Type.Optional(DatabaseIdSchema) }, { additionalProperties: false });
export type UsageQuery = Static<typeof UsageQuery>;

export const UsageSchema = Type.Object({
  items: Type.Array(StorageUsageSchema, { description: 'One row per database and target (configured ones, and any other still holding copies)' }),
  totals: Type.Object({ backups: Count, bytes: Count }),
});
export type Usage = Static<typeof UsageSchema>;
