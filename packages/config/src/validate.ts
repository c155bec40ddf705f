/**
 * Field-by-field validation of the raw (YAML/JSON) config object. Every problem is reported
 * as `<field path>: <what is wrong>`; values of secret fields are never echoed.
 */

export type Raw = Record<string, unknown>;


export class Problems {
  readonly list: string[] = [];
  add(path: string, msg: string): void {
    this.list.push(`${path}: ${msg}`);
  }
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** A short, safe description of a (non-secret) value for messages. */
export function show(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 77) + '...' : v);
  return String(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length]![b.length]!;
}

/**
 * Check `v` is a mapping whose keys are all in `allowed`; report unknown keys (with a
 * suggestion when one is close). Returns the mapping, `{}` when absent, or undefined when
 * it has the wrong type.
 */
export function mapping(p: Problems, v: unknown, path: string, allowed: readonly string[]): Raw | undefined {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    p.add(path || '(root)', `must be a mapping, got ${typeName(v)}`);
    return undefined;
  }
  const o = v as Raw;
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const near = allowed.find((a) => editDistance(a.toLowerCase(), k.toLowerCase()) <= 2);
    p.add(join(path, k), `unknown option${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.join(', ')}`);
  }
  return o;
}

export function list(p: Problems, v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    p.add(path, `must be a list, got ${typeName(v)}`);
    return [];
  }
  return v;
}

interface StrOpts {
  pattern?: RegExp;
  patternText?: string;
  /** Never echo the value. */
  secret?: boolean;
  minLength?: number;
  oneOf?: readonly string[];
}

/** Optional string; `undefined` when absent or invalid (the problem is recorded). */
export function optStr(p: Problems, o: Raw, key: string, path: string, opts: StrOpts = {}): string | undefined {
  const v = o[key];
  const fp = join(path, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    p.add(fp, `must be a string, got ${opts.secret ? typeName(v) : typeName(v) + ' ' + show(v)}`);
    return undefined;
  }
  const got = opts.secret ? '' : `, got ${show(v)}`;
  if (opts.oneOf && !opts.oneOf.includes(v)) {
    p.add(fp, `must be one of ${opts.oneOf.join(', ')}${got}`);
    return undefined;
  }
  if (opts.minLength !== undefined && v.length < opts.minLength) {
    p.add(fp, `must be at least ${opts.minLength} characters long${opts.secret ? '' : got}`);
    return undefined;
  }
  if (opts.pattern && !opts.pattern.test(v)) {
    p.add(fp, `must match ${opts.patternText ?? String(opts.pattern)}${got}`);
    return undefined;
  }
  return v;
}

export function reqStr(p: Problems, o: Raw, key: string, path: string, opts: StrOpts = {}): string | undefined {
  if (o[key] === undefined || o[key] === null) {
    p.add(join(path, key), 'is required');
    return undefined;
  }
  return optStr(p, o, key, path, opts);
}

export function optInt(p: Problems, o: Raw, key: string, path: string, min: number, max: number, what = ''): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return checkInt(p, v, join(path, key), min, max, what);
}

export function checkInt(p: Problems, v: unknown, fp: string, min: number, max: number, what = ''): number | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    p.add(fp, `must be an integer, got ${typeName(v)} ${show(v)}`);
    return undefined;
  }
  if (v < min || v > max) {
    p.add(fp, `${what ? what + ' ' : ''}must be ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`}, got ${v}`);
    return undefined;
  }
  return v;
}

export function optBool(p: Problems, o: Raw, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') {
    p.add(join(path, key), `must be true or false, got ${show(v)}`);
    return undefined;
  }
  return v;
}

/** IANA time zone accepted by this Node.js (ICU) build. */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const CRON_FIELD = /^[0-9A-Za-z*?/,#LW-]+$/;

/** Problem with a cron pattern (5 fields, or 6 with seconds first), or undefined when fine. */
export function cronProblem(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5 && fields.length !== 6) {
    return `cron must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fields.length} in ${show(cron)}`;
  }
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  if (bad !== undefined) return `cron field ${show(bad)} has characters cron does not allow`;
  return undefined;
}
