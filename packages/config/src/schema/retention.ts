/**
 * A retention policy (`localRetention`, `databases[].retention`, `targets[].retention`): the
 * field names are the schema's, their meaning and checks are @mfb/retention's
 * `validateRetentionPolicy` (its problems are reported at the exact field,
 * `databases[0].retention.keepDaily: must be an integer >= 0, got -1`). An empty policy checks
 * to undefined: the loader then uses the inherited one.
 */
import { Type } from '@sinclair/typebox';
import { RETENTION_POLICY_FIELDS, RetentionPolicyError, validateRetentionPolicy } from '@mfb/retention';
import type { RetentionConfig } from '../types.js';
import { join, type Problems } from '../validate.js';

function refineRetention(o: Record<string, unknown>, path: string, p: Problems): RetentionConfig | undefined {
  if (Object.keys(o).length === 0) return undefined;
  try {
    return validateRetentionPolicy(o);
  } catch (err) {
    if (!(err instanceof RetentionPolicyError)) throw err;
    p.add(err.field ? join(path, err.field) : path, err.detail);
    return undefined;
  }
}

export const RetentionSchema = Type.Object(Object.fromEntries(RETENTION_POLICY_FIELDS.map((f) => [f, Type.Optional(Type.Unknown())])), {
  additionalProperties: false,
  description: 'retention policy (docs/retention.md); absent or empty: inherited',
  refine: refineRetention,
});
