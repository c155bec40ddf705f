/**
 * Problem collection and the small helpers shared by the schema checker and the loader. Every
 * problem is reported as `<field path>: <what is wrong>`; values of secret fields are never echoed.
 */

export class Problems {
  readonly list: string[] = [];
  add(path: string, msg: string): void {
    this.list.push(`${path || '(root)'}: ${msg}`);
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

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length]![b.length]!;
}

/** `unknown option (did you mean "x"?); allowed: ...` for a key not in `allowed`. */
export function unknownOption(key: string, allowed: readonly string[]): string {
  const near = allowed.find((a) => editDistance(a.toLowerCase(), key.toLowerCase()) <= 2);
  return `unknown option${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.join(', ')}`;
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
