import { StorageInvalidOptionsError } from './errors.js';

/** How one driver option is given and checked (URL query values are always strings). */
export type OptionSpec =
  | { type: 'string'; secret?: boolean }
  | { type: 'boolean' }
  | { type: 'integer'; min: number; max: number }
  /** A byte count: an integer or a string with a binary unit (`8MiB`, `64KiB`, `1GiB`). */
  | { type: 'bytes'; min: number; max: number }
  | { type: 'enum'; values: readonly string[] };

type ValueOf<S extends OptionSpec> = S extends { type: 'boolean' } ? boolean : S extends { type: 'integer' | 'bytes' } ? number : string;

/** The parsed options of a spec: each key present only when it was given. */
export type ParsedOptions<T extends Record<string, OptionSpec>> = { -readonly [K in keyof T]?: ValueOf<T[K]> };

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20, g: 1 << 30, gb: 1 << 30, gib: 1 << 30 };

function parseOne(name: string, spec: OptionSpec, raw: unknown): { value: unknown } | { problem: string } {
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') return { problem: 'must be a non-empty string' };
      return { value: raw };
    case 'boolean':
      if (typeof raw === 'boolean') return { value: raw };
      if (raw === 'true' || raw === '1') return { value: true };
      if (raw === 'false' || raw === '0') return { value: false };
      return { problem: 'must be true or false' };
    case 'enum':
      if (typeof raw !== 'string' || !spec.values.includes(raw)) return { problem: `must be one of ${spec.values.join(', ')}` };
      return { value: raw };
    case 'integer':
    case 'bytes': {
      let n: number | undefined;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string') {
        const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
        const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
        if (m && unit !== undefined && (spec.type === 'bytes' || m[2] === '')) n = Number(m[1]) * unit;
      }
      if (n === undefined || !Number.isSafeInteger(n)) {
        return { problem: spec.type === 'bytes' ? 'must be a byte count (e.g. 16777216 or 16MiB)' : 'must be an integer' };
      }
      if (n < spec.min || n > spec.max) return { problem: `must be between ${spec.min} and ${spec.max}` };
      return { value: n };
    }
  }
  return { problem: `unsupported option ${name}` };
}

/**
 * Merge and validate a driver's options from the URL query and from `targets[].options`.
 * Throws STORAGE_INVALID_OPTIONS naming the key for an unknown key (listing the valid ones),
 * a bad value, or a key given in both places. Values of `secret` options never appear in
 * messages.
 */
export function parseDriverOptions<T extends Record<string, OptionSpec>>(
  safeUrl: string,
  spec: T,
  query: URLSearchParams,
  options: Readonly<Record<string, unknown>> | undefined,
): ParsedOptions<T> {
  const out: Record<string, unknown> = {};
  const valid = Object.keys(spec).sort().join(', ') || '(none)';
  const seen = new Set<string>();
  const take = (name: string, raw: unknown, where: string): void => {
    const s = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (!s) throw new StorageInvalidOptionsError(safeUrl, `unknown option ${JSON.stringify(name)} in ${where} (valid: ${valid})`, { option: name });
    if (seen.has(name)) {
      throw new StorageInvalidOptionsError(safeUrl, `option ${JSON.stringify(name)} is given both in the URL and in options; give it once`, { option: name });
    }
    seen.add(name);
    const r = parseOne(name, s, raw);
    if ('problem' in r) {
      const shown = s.type === 'string' && s.secret ? '' : ` (got ${JSON.stringify(raw)})`;
      throw new StorageInvalidOptionsError(safeUrl, `option ${JSON.stringify(name)} ${r.problem}${shown}`, { option: name });
    }
    out[name] = r.value;
  };
  const queryNames = [...query.keys()];
  for (const name of new Set(queryNames)) {
    if (queryNames.filter((n) => n === name).length > 1) {
      throw new StorageInvalidOptionsError(safeUrl, `option ${JSON.stringify(name)} is repeated in the URL`, { option: name });
    }
    take(name, query.get(name), 'the URL query');
  }
  if (options !== undefined) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new StorageInvalidOptionsError(safeUrl, 'options must be a mapping of option names to values');
    }
    for (const [name, raw] of Object.entries(options)) take(name, raw, 'options');
  }
  return out as ParsedOptions<T>;
}

/** `PutOptions.sha256` must be 64 lowercase hex digits (a caller mistake otherwise). */
export function checkSha256Option(sha256: string | undefined): void {
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new TypeError('PutOptions.sha256 must be the lowercase hex SHA-256 of the body (64 characters)');
  }
}
