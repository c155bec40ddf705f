import { Value } from '@sinclair/typebox/value';
import { JOB_NAMES, PAYLOAD_SCHEMAS, type JobName, type Payloads } from './contract.js';
import { InvalidPayloadError, UnknownJobError } from './errors.js';

/** True when `name` is one of `JOB_NAMES`. */
export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name);
}

/**
 * Check a payload against its job's schema.
 * @throws InvalidPayloadError (JOBS_INVALID_PAYLOAD, permanent) naming the first bad field.
 * @throws UnknownJobError when `name` is not a job name.
 */
export function validatePayload<N extends JobName>(name: N, data: unknown): Payloads[N];
export function validatePayload(name: string, data: unknown): Payloads[JobName];
export function validatePayload(name: string, data: unknown): Payloads[JobName] {
  if (!isJobName(name)) throw new UnknownJobError(name);
  const schema = PAYLOAD_SCHEMAS[name];
  if (Value.Check(schema, data)) return data as Payloads[JobName];
  const first = Value.Errors(schema, data).First();
  throw new InvalidPayloadError(name, first?.path ?? '', first?.message ?? 'does not match the schema');
}
