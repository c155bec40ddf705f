/** Building blocks shared by the section schemas. */
import { Type, type TSchema } from '@sinclair/typebox';
import { HOST_PATTERN, HOST_RULE, ID_PATTERN, ID_RULE } from '@mfb/client';
import type { CheckOptions } from './check.js';

/** Ids of databases, targets, schedules and keys (`ID_PATTERN` of @mfb/client). */
export const Id = (description: string): TSchema => Type.String({ pattern: ID_PATTERN, patternText: ID_RULE, description });

/** Host ids (`HOST_PATTERN` of @mfb/client): `databases[].host`, `worker.host`. */
export const HostId = (description: string): TSchema => Type.String({ pattern: HOST_PATTERN, patternText: HOST_RULE, description });

/** An integer in [min, max] (no max: unbounded). */
export const Int = (min: number, max: number | undefined, description: string, opts: CheckOptions & { default?: number } = {}): TSchema =>
  Type.Integer({ minimum: min, ...(max !== undefined ? { maximum: max } : {}), description, ...opts });

/** One of the given words. */
export const OneOf = (values: readonly string[], description: string): TSchema =>
  Type.Union(values.map((v) => Type.Literal(v)), { description });
