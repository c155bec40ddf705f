/** `databases[]`: what is backed up, how (compression, encryption), where to and when. */
import { Type } from '@sinclair/typebox';
import { checkCron } from '../cron.js';
import { DEFAULTS, RESTORE_DRILL_SCHEDULE_ID } from '../defaults.js';
import type { CompressionAlgorithm, CompressionConfig, RestoreDrillConfig, ScheduleConfig } from '../types.js';
import { check } from './check.js';
import { join, show, type Problems } from '../validate.js';
import { HostId, Id, Int, OneOf } from './common.js';
import { DatabaseHealthSchema } from './health.js';
import { DatabaseNotificationsSchema } from './notifications.js';
import { RetentionSchema } from './retention.js';

const LEVELS = { gzip: [1, 9], zstd: [1, 19] } as const;

function refineCompression(o: { algorithm?: CompressionAlgorithm; level?: number }, path: string, p: Problems): CompressionConfig | undefined {
  const algorithm = o.algorithm ?? 'gzip';
  const lfp = join(path, 'level');
  if (algorithm === 'none') {
    if (o.level !== undefined && o.level !== 0) p.add(lfp, `must be absent (or 0) when algorithm is none, got ${show(o.level)}`);
    return { algorithm: 'none', level: 0 };
  }
  if (o.level === undefined) return { algorithm, level: DEFAULTS.compression[algorithm] };
  const [min, max] = LEVELS[algorithm];
  if (o.level < min || o.level > max) {
    p.add(lfp, `${algorithm} level must be ${min}-${max}, got ${o.level}`);
    return undefined;
  }
  return { algorithm, level: o.level };
}

export const CompressionSchema = Type.Object(
  {
    algorithm: Type.Optional(OneOf(['gzip', 'zstd', 'none'], 'default gzip')),
    level: Type.Optional(Type.Integer({ description: 'gzip 1-9 (default 6), zstd 1-19 (default 3); none: absent (or 0)' })),
  },
  { additionalProperties: false, refine: refineCompression },
);

/** A schedule: the one cron rule of ../cron.ts (the API's too), its time zone, its job. */
function refineSchedule(o: Partial<ScheduleConfig>, path: string, p: Problems): ScheduleConfig | undefined {
  const timezone = o.timezone ?? 'UTC';
  if (o.cron === undefined) return undefined;
  let r = checkCron(o.cron, timezone);
  if (!r.ok && r.kind === 'timezone') {
    p.add(join(path, 'timezone'), r.message);
    r = checkCron(o.cron, 'UTC'); // still report a bad cron
    if (r.ok) return undefined;
  }
  if (!r.ok) {
    p.add(join(path, 'cron'), r.message);
    return undefined;
  }
  if (o.id === undefined) return undefined;
  return { id: o.id, cron: o.cron.trim(), timezone, job: o.job ?? 'backup', paused: o.paused ?? false };
}

function refineSchedules(list: Array<ScheduleConfig | undefined>, path: string, p: Problems): typeof list {
  const seen = new Set<string>();
  return list.map((s, i) => {
    if (s === undefined) return s;
    if (seen.has(s.id)) p.add(join(join(path, i), 'id'), `duplicate schedule id ${show(s.id)} for this database`);
    if (s.id === RESTORE_DRILL_SCHEDULE_ID) p.add(join(join(path, i), 'id'), `${show(s.id)} is reserved for the restore drill (set restoreDrill instead)`);
    seen.add(s.id);
    return s;
  });
}

export const ScheduleSchema = Type.Object(
  {
    id: Id('stable id, unique per database (e.g. nightly)'),
    cron: Type.String({ description: 'cron, 5 fields or 6 (seconds first); at least 60 s between runs (src/cron.ts)' }),
    timezone: Type.Optional(Type.String({ description: 'IANA time zone; default UTC' })),
    job: Type.Optional(OneOf(['backup', 'verify', 'prune'], 'job the schedule enqueues; default backup')),
    paused: Type.Optional(Type.Boolean({ description: 'default false' })),
  },
  { additionalProperties: false, refine: refineSchedule },
);

/** The restore drill's own fields; `restoreDrill: false` is off, `true` the default. */
const RestoreDrillObjectSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
    cron: Type.Optional(Type.String({ description: 'cron (the schedules rule); default 30 4 * * 0 (weekly)' })),
    timezone: Type.Optional(Type.String({ description: 'IANA time zone; default UTC' })),
  },
  { additionalProperties: false },
);

/** Page-level incremental backups (issue 12); absent fields take the engine's defaults. */
export const IncrementalSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'default true: databases of at least minSizeBytes get full + delta backups' })),
    fullEvery: Type.Optional(Int(1, 1000, 'a full after this many deltas; default 7')),
    maxChainRatio: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, description: "a full once the chain's deltas store more than this fraction of the full; default 0.5" }),
    ),
    minSizeBytes: Type.Optional(Int(0, Number.MAX_SAFE_INTEGER, 'smaller databases get plain full backups; default 67108864 (64 MiB)')),
    compactOnPrune: Type.Optional(
      Type.Boolean({ description: 'default false: a prune of the primary storage first compacts kept deltas whose chain is kept only for them (docs/retention.md, Compaction)' }),
    ),
  },
  { additionalProperties: false },
);

/** How the snapshot is taken and checked (docs/architecture.md "Snapshot method"); absent fields take the engine's defaults. */
export const SnapshotSchema = Type.Object(
  {
    method: Type.Optional(
      OneOf(['stream', 'vacuum-into', 'backup-api'], 'default stream: pages read in one read transaction and compressed as they are read, no scratch copy'),
    ),
    sourceCheck: Type.Optional(OneOf(['quick', 'none'], 'quick: PRAGMA quick_check in the snapshot transaction; default none for databases of at least incremental.minSizeBytes (the restore drill checks), quick for smaller ones')),
  },
  { additionalProperties: false },
);

function refineRestoreDrill(v: unknown, path: string, p: Problems): RestoreDrillConfig | undefined {
  const d = DEFAULTS.restoreDrill;
  if (v === true) return { ...d };
  if (v === false) return { ...d, enabled: false };
  const o = check(RestoreDrillObjectSchema, v, path, p) as { enabled?: boolean; cron?: string; timezone?: string } | undefined;
  if (o === undefined) return undefined;
  const s = refineSchedule({ id: RESTORE_DRILL_SCHEDULE_ID, cron: o.cron ?? d.cron, timezone: o.timezone ?? d.timezone }, path, p);
  if (s === undefined) return undefined;
  return { enabled: o.enabled ?? true, cron: s.cron, timezone: s.timezone };
}

/** `restoreDrill`: `false` (off), `true` or a mapping `{cron?, timezone?, enabled?}`; docs/operations.md "Restore drills". */
export const RestoreDrillSchema = Type.Unknown({
  description: 'restore drill (a scheduled verify of every target): false = off, or {cron?, timezone?, enabled?}; default weekly',
  refine: refineRestoreDrill,
});

export const DatabaseSchema = Type.Object(
  {
    id: Id('stable id used in storage keys, metrics labels and URLs'),
    path: Type.String({ minLength: 1, description: 'the SQLite file; relative to the config file' }),
    host: Type.Optional(HostId('the host whose disk holds the file: its backups and restore-replace jobs run only on workers of that host (worker.host); absent: any worker')),
    compression: Type.Optional(CompressionSchema),
    encryptionKeyId: Type.Optional(Type.String({ description: 'id of a key in keys[]; absent: not encrypted' })),
    targets: Type.Optional(Type.Array(Type.String(), { description: 'names of targets[] each backup is uploaded to' })),
    retention: Type.Optional(RetentionSchema),
    schedules: Type.Optional(Type.Array(ScheduleSchema, { refine: refineSchedules })),
    restoreDrill: Type.Optional(RestoreDrillSchema),
    health: Type.Optional(DatabaseHealthSchema),
    notifications: Type.Optional(DatabaseNotificationsSchema),
    incremental: Type.Optional(IncrementalSchema),
    snapshot: Type.Optional(SnapshotSchema),
  },
  { additionalProperties: false },
);

export const DatabasesSchema = Type.Array(DatabaseSchema, { description: 'the databases; none: the demo database' });
