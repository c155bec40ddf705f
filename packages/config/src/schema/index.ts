/**
 * The config file's schema: one module per section, composed here. To add a section
 * (`notifications`, `health`, ...): write `schema/<section>.ts` exporting its TypeBox schema
 * (with `refine` for checks beyond the structure, see check.ts), add it below, add its field to
 * `Config` (types.ts) and build it in load.ts (defaults, environment overrides).
 */
import { Type } from '@sinclair/typebox';
import { ApiSchema } from './api.js';
import { DatabasesSchema } from './databases.js';
import { HealthSchema } from './health.js';
import { KeysSchema } from './keys.js';
import { LogSchema } from './log.js';
import { NotificationsSchema } from './notifications.js';
import { PathsSchema } from './paths.js';
import { RedisSchema } from './redis.js';
import { RetentionSchema } from './retention.js';
import { TargetsSchema } from './targets.js';
import { WorkerSchema } from './worker.js';

export const ConfigFileSchema = Type.Object(
  {
    ...PathsSchema,
    localRetention: Type.Optional(RetentionSchema),
    keys: Type.Optional(KeysSchema),
    databases: Type.Optional(DatabasesSchema),
    targets: Type.Optional(TargetsSchema),
    redis: Type.Optional(RedisSchema),
    worker: Type.Optional(WorkerSchema),
    api: Type.Optional(ApiSchema),
    health: Type.Optional(HealthSchema),
    notifications: Type.Optional(NotificationsSchema),
    log: Type.Optional(LogSchema),
  },
  { additionalProperties: false },
);

export { check, type CheckOptions, type Refine } from './check.js';
