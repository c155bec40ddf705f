/** `housekeeping`: catalog trimming run by the worker (docs/retention.md#catalog-housekeeping). 0 = never trim that way. */
import { Type } from '@sinclair/typebox';
import { DEFAULTS } from '../defaults.js';
import { Int } from './common.js';

export const HousekeepingSchema = Type.Object(
  {
    jobHistoryDays: Type.Optional(Int(0, 36_500, 'days of job history kept (0 = forever)', { default: DEFAULTS.housekeeping.jobHistoryDays })),
    jobHistoryMax: Type.Optional(Int(0, 100_000_000, 'job history rows kept, the newest (0 = no limit)', { default: DEFAULTS.housekeeping.jobHistoryMax })),
    deletedBackupDays: Type.Optional(Int(0, 36_500, 'days a backup with no copy left stays in the catalog (0 = forever)', { default: DEFAULTS.housekeeping.deletedBackupDays })),
  },
  { additionalProperties: false },
);
