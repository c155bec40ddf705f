import { describe, parseDuration } from './duration.js';
import type { RetentionDuration } from './duration.js';
import { RetentionPolicyError } from './errors.js';
import { isKnownTimeZone } from './zone.js';

/**
 * Which backups to keep (semantics and worked examples in docs/retention.md). Every field is
 * optional; a backup is kept when ANY keep rule keeps it (restic's union), when it is pinned
 * or when it is the newest. Counts of 0 and absent fields turn a rule off.
 */
export interface RetentionPolicy {
  /** Keep the newest N backups. */
  keepLast?: number;
  /** For the last N local hours that have backups, keep the newest backup of each. */
  keepHourly?: number;
  /** For the last N local days that have backups, keep the newest backup of each. */
  keepDaily?: number;
  /** For the last N ISO weeks (Monday to Sunday, local) that have backups, keep the newest of each. */
  keepWeekly?: number;
  /** For the last N local months that have backups, keep the newest backup of each. */
  keepMonthly?: number;
  /** For the last N local years that have backups, keep the newest backup of each. */
  keepYearly?: number;
  /** Keep every backup made within this duration (`30d`, `1y2m`) of the newest backup (restic's `--keep-within`). */
  keepWithin?: string;
  /** Keep every backup younger than this duration (measured from now); older ones go unless another rule keeps them. */
  maxAge?: string;
  /** After the keep rules, delete the oldest budget-removable kept backups until the kept total is at most this many bytes. */
  maxTotalBytes?: number;
  /** The newest N backups are always kept, whatever maxAge and maxTotalBytes say. */
  minKeep?: number;
  /** IANA time zone of the calendar buckets and of calendar durations; default `UTC`. */
  timezone?: string;
}

/** The policy's fields, in the order documented and reported. */
export const RETENTION_POLICY_FIELDS = [
  'keepLast',
  'keepHourly',
  'keepDaily',
  'keepWeekly',
  'keepMonthly',
  'keepYearly',
  'keepWithin',
  'maxAge',
  'maxTotalBytes',
  'minKeep',
  'timezone',
] as const satisfies ReadonlyArray<keyof RetentionPolicy>;

const COUNT_FIELDS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly', 'minKeep'] as const;
const KEEP_RULES = 'keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin or maxAge';

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};

/**
 * Parse a byte size: a non-negative integer, or a string such as `10GiB`, `500 MB`, `1.5 TiB`
 * (IEC units are powers of 1024, SI units powers of 1000; case-insensitive). Throws
 * {@link RetentionPolicyError} naming `field`.
 */
export function parseByteSize(v: unknown, field = 'size'): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new RetentionPolicyError(field, `must be a whole number of bytes >= 0 or a size such as "10GiB", got ${describe(v)}`);
    return v;
  }
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v) : null;
  const unit = m ? BYTE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new RetentionPolicyError(field, `must be a number of bytes or a size such as "10GiB" or "500MB" (units B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB), got ${describe(v)}`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new RetentionPolicyError(field, `${describe(v)} is too large`);
  return bytes;
}

/** `10 GiB`, `1.5 MiB`, `512 B`: IEC units, at most one decimal. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const tenths = Math.round(v * 10);
  const whole = Math.trunc(tenths / 10);
  return i === 0 || tenths % 10 === 0 ? `${tenths / 10} ${units[i]}` : `${whole}.${Math.abs(tenths % 10)} ${units[i]}`;
}

/**
 * Check a policy from any source (config file, API body) and return it normalised and frozen:
 * absent fields stay absent, durations in canonical spelling (`1y2m`), `maxTotalBytes` in bytes
 * (it may be given as `"10GiB"`). Throws {@link RetentionPolicyError} naming the first field at
 * fault: a negative or fractional count, an unknown field, an unparsable duration, an unknown
 * time zone, or a policy that keeps nothing but the newest backup (no keep rule and no
 * `minKeep` >= 1).
 */
export function validateRetentionPolicy(raw: unknown): RetentionPolicy {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RetentionPolicyError('', `a retention policy must be an object with fields such as keepLast or keepDaily, got ${describe(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(RETENTION_POLICY_FIELDS as readonly string[]).includes(k)) {
      throw new RetentionPolicyError(k, `unknown retention field; allowed: ${RETENTION_POLICY_FIELDS.join(', ')}`);
    }
  }
  const out: RetentionPolicy = {};
  for (const f of COUNT_FIELDS) {
    const v = o[f];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RetentionPolicyError(f, `must be an integer >= 0, got ${describe(v)}`);
    out[f] = v;
  }
  if (o['keepWithin'] !== undefined) out.keepWithin = parseDuration(o['keepWithin'], 'keepWithin').text;
  if (o['maxAge'] !== undefined) out.maxAge = parseDuration(o['maxAge'], 'maxAge').text;
  if (o['maxTotalBytes'] !== undefined) {
    const bytes = parseByteSize(o['maxTotalBytes'], 'maxTotalBytes');
    if (bytes < 1) throw new RetentionPolicyError('maxTotalBytes', 'must be at least 1 byte (omit maxTotalBytes for no budget)');
    out.maxTotalBytes = bytes;
  }
  const tz = o['timezone'];
  if (tz !== undefined) {
    if (typeof tz !== 'string' || !isKnownTimeZone(tz)) {
      throw new RetentionPolicyError('timezone', `unknown time zone ${describe(tz)} (use an IANA name such as Europe/Berlin or UTC)`);
    }
    out.timezone = tz;
  }
  const keeps = [out.keepLast, out.keepHourly, out.keepDaily, out.keepWeekly, out.keepMonthly, out.keepYearly].some((n) => (n ?? 0) > 0);
  if (!keeps && out.keepWithin === undefined && out.maxAge === undefined && (out.minKeep ?? 0) < 1) {
    throw new RetentionPolicyError(
      'minKeep',
      `must be >= 1 when no keep rule is set (${KEEP_RULES}), got ${out.minKeep ?? 'none'}: this policy would delete every backup but the newest`,
    );
  }
  return Object.freeze(out);
}

/** A validated policy with its durations parsed: what the planner works from. */
export interface CompiledPolicy {
  policy: RetentionPolicy;
  keepWithin: RetentionDuration | undefined;
  maxAge: RetentionDuration | undefined;
  timezone: string;
}

export function compilePolicy(raw: unknown): CompiledPolicy {
  const policy = validateRetentionPolicy(raw);
  return {
    policy,
    keepWithin: policy.keepWithin === undefined ? undefined : parseDuration(policy.keepWithin, 'keepWithin'),
    maxAge: policy.maxAge === undefined ? undefined : parseDuration(policy.maxAge, 'maxAge'),
    timezone: policy.timezone ?? 'UTC',
  };
}
