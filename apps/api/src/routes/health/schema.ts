import { Type, type Static } from '@sinclair/typebox';

const Level = Type.Union([Type.Literal('ok'), Type.Literal('warning'), Type.Literal('critical')]);
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

export const HealthReasonSchema = Type.Object(
  {
    check: Type.Union([Type.Literal('backup-age'), Type.Literal('no-backup'), Type.Literal('failures'), Type.Literal('verify-age'), Type.Literal('disk'), Type.Literal('target'), Type.Literal('host')]),
    status: Type.Union([Type.Literal('warning'), Type.Literal('critical')]),
    message: Type.String(),
  },
  { additionalProperties: false },
);

export const DatabaseHealthReportSchema = Type.Object(
  {
    id: Type.String(),
    status: Level,
    reasons: Type.Array(HealthReasonSchema, { description: 'Why the status is not `ok` (empty when it is)' }),
    lastSuccessAt: Nullable(Type.String({ format: 'date-time' })),
    lastAttemptAt: Nullable(Type.String({ format: 'date-time' })),
    lastError: Nullable(Type.String()),
    ageSeconds: Nullable(Type.Integer({ minimum: 0 })),
    maxAgeSeconds: Nullable(Type.Integer({ minimum: 0, description: 'Age of the last success past which the database is critical (`null`: no age check)' })),
    expectedIntervalSeconds: Nullable(Type.Integer({ minimum: 0, description: 'Shortest active backup schedule interval' })),
    nextRunAt: Nullable(Type.String({ format: 'date-time', description: 'Next scheduled backup' })),
    consecutiveFailures: Type.Integer({ minimum: 0 }),
    lastVerifiedAt: Nullable(Type.String({ format: 'date-time', description: 'Last successful verify (restore check)' })),
  },
  { additionalProperties: false },
);

export const VolumeReportSchema = Type.Object(
  {
    name: Type.Union([Type.Literal('scratch'), Type.Literal('local')]),
    path: Type.String(),
    status: Level,
    freeBytes: Nullable(Type.Number({ minimum: 0 })),
    totalBytes: Nullable(Type.Number({ minimum: 0 })),
    freePercent: Nullable(Type.Number({ minimum: 0, maximum: 100 })),
    error: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

export const TargetReportSchema = Type.Object(
  {
    name: Type.String(),
    status: Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('unchecked')]),
    checkedAt: Nullable(Type.String({ format: 'date-time' })),
    error: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

export const HealthReportSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('warning'), Type.Literal('critical')], { description: 'The worst status of any database or volume' }),
    checkedAt: Type.String({ format: 'date-time' }),
    databases: Type.Array(DatabaseHealthReportSchema),
    volumes: Type.Array(VolumeReportSchema, { description: 'Free space of the scratch directory and of file:// primary storage' }),
    targets: Type.Array(TargetReportSchema, { description: 'Probe results (cached); an unreachable target makes its databases critical' }),
  },
  { additionalProperties: false },
);
export type HealthReportView = Static<typeof HealthReportSchema>;
