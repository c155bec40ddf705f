/**
 * The checker of the config file schema: walks a TypeBox schema (the declarative description
 * of every section, src/schema/*.ts) and a raw value together and reports every problem as
 * `<exact field path>: <what is wrong>` (`databases[1].retention.keepDaily: ...`), with "did you
 * mean" hints for unknown keys and never the value of a field marked `secret`. It returns the
 * value with every invalid part left out (`undefined` in its place), so the loader can go on
 * and report all problems at once.
 *
 * Besides JSON Schema keywords (type, minimum, maximum, minLength, pattern, enum as a union of
 * literals, additionalProperties: false), a schema may carry these options:
 * - `secret: true`: messages never show the value;
 * - `patternText`: what `pattern` means, in words;
 * - `what`: a prefix for range messages (`gzip level must be 1-9, got 12`);
 * - `mappingText`: the message when a Record is not a mapping; `keyRule`: when a Record key
 *   does not match its pattern;
 * - `refine(value, path, problems)`: a check that needs more than the structure (a storage
 *   URL, a cron, a retention policy, fields that depend on each other); called with the
 *   structurally valid value, returns the (possibly converted) value or undefined when invalid.
 */
import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox';
import { Problems, join, show, typeName, unknownOption } from '../validate.js';

/** A check beyond the structure; returns the value to keep, or undefined (problem recorded). */
export type Refine = (value: never, path: string, problems: Problems) => unknown;

/** Options the checker understands beyond JSON Schema (see the module comment). */
export interface CheckOptions {
  secret?: boolean;
  patternText?: string;
  what?: string;
  mappingText?: string;
  keyRule?: string;
  refine?: Refine;
}

type Schema = TSchema & CheckOptions & Record<string, unknown>;

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

function got(s: Schema, v: unknown): string {
  return s.secret ? '' : `, got ${show(v)}`;
}

function refined(s: Schema, v: unknown, path: string, p: Problems): unknown {
  return s.refine ? s.refine(v as never, path, p) : v;
}

const SCALAR_NAMES: Record<string, string> = { String: 'string', Number: 'number', Integer: 'number', Boolean: 'boolean' };

/**
 * Check `v` against `schema` at `path`; record problems in `p`. Returns the valid part of `v`
 * (converted by `refine` where the schema says so), or undefined when `v` is invalid.
 */
export function check(schema: TSchema, v: unknown, path: string, p: Problems): unknown {
  const s = schema as Schema;
  switch (s[Kind]) {
    case 'Object': {
      if (!isMapping(v)) {
        p.add(path, `must be a mapping, got ${typeName(v)}`);
        return undefined;
      }
      const props = (s['properties'] ?? {}) as Record<string, Schema>;
      const allowed = Object.keys(props);
      if (s['additionalProperties'] === false) {
        for (const k of Object.keys(v)) if (!(k in props)) p.add(join(path, k), unknownOption(k, allowed));
      }
      const out: Record<string, unknown> = {};
      for (const [k, ps] of Object.entries(props)) {
        const fp = join(path, k);
        if (absent(v[k])) {
          if (ps[OptionalKind] !== 'Optional') p.add(fp, 'is required');
          continue;
        }
        const c = check(ps, v[k], fp, p);
        if (c !== undefined) out[k] = c;
      }
      return refined(s, out, path, p);
    }
    case 'Record': {
      if (!isMapping(v)) {
        p.add(path, `${s.mappingText ?? 'must be a mapping'}, got ${show(v)}`);
        return undefined;
      }
      const [[pattern, vs]] = Object.entries(s['patternProperties'] as Record<string, Schema>) as [[string, Schema]];
      const re = new RegExp(pattern);
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(v)) {
        if (!re.test(k)) {
          p.add(join(path, k), s.keyRule ?? `names must match ${pattern}`);
          continue;
        }
        const c = check(vs, val, join(path, k), p);
        if (c !== undefined) out[k] = c;
      }
      return refined(s, out, path, p);
    }
    case 'Array': {
      if (!Array.isArray(v)) {
        p.add(path, `must be a list, got ${typeName(v)}`);
        return undefined;
      }
      // Invalid items stay as holes, so later checks can name items by their index in the file.
      const out = v.map((item, i) => (absent(item) ? undefined : check(s['items'] as Schema, item, join(path, i), p)));
      return refined(s, out, path, p);
    }
    case 'String': {
      if (typeof v !== 'string') {
        p.add(path, `must be a string, got ${s.secret ? typeName(v) : `${typeName(v)} ${show(v)}`}`);
        return undefined;
      }
      const min = s['minLength'] as number | undefined;
      const max = s['maxLength'] as number | undefined;
      if (min !== undefined && v.length < min) {
        p.add(path, `must be at least ${min} characters long${got(s, v)}`);
        return undefined;
      }
      if (max !== undefined && v.length > max) {
        p.add(path, `must be at most ${max} characters long, got ${v.length}`);
        return undefined;
      }
      const pattern = s['pattern'] as string | undefined;
      if (pattern !== undefined && !new RegExp(pattern).test(v)) {
        p.add(path, `must match ${s.patternText ?? pattern}${got(s, v)}`);
        return undefined;
      }
      return refined(s, v, path, p);
    }
    case 'Integer':
    case 'Number': {
      if (typeof v !== 'number' || !Number.isFinite(v) || (s[Kind] === 'Integer' && !Number.isInteger(v))) {
        p.add(path, `must be ${s[Kind] === 'Integer' ? 'an integer' : 'a number'}, got ${typeName(v)} ${show(v)}`);
        return undefined;
      }
      const min = (s['minimum'] as number | undefined) ?? -Infinity;
      const max = (s['maximum'] as number | undefined) ?? Infinity;
      if (v < min || v > max) {
        const range = max === Infinity ? `>= ${min}` : min === -Infinity ? `<= ${max}` : `${min}-${max}`;
        p.add(path, `${s.what ? s.what + ' ' : ''}must be ${range}, got ${v}`);
        return undefined;
      }
      return refined(s, v, path, p);
    }
    case 'Boolean':
      if (typeof v !== 'boolean') {
        p.add(path, `must be true or false${got(s, v)}`);
        return undefined;
      }
      return refined(s, v, path, p);
    case 'Literal':
      if (v !== s['const']) {
        p.add(path, `must be ${show(s['const'])}${got(s, v)}`);
        return undefined;
      }
      return refined(s, v, path, p);
    case 'Union': {
      const members = s['anyOf'] as Schema[];
      if (members.every((m) => m[Kind] === 'Literal')) {
        const values = members.map((m) => m['const']);
        if (!values.includes(v)) {
          p.add(path, `must be one of ${values.join(', ')}${got(s, v)}`);
          return undefined;
        }
        return refined(s, v, path, p);
      }
      for (const m of members) {
        const scratch = new Problems();
        const c = check(m, v, path, scratch);
        if (scratch.list.length === 0) return refined(s, c, path, p);
      }
      const names = [...new Set(members.map((m) => SCALAR_NAMES[m[Kind] as string] ?? String(m[Kind]).toLowerCase()))];
      const alternatives = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
      p.add(path, `must be a ${alternatives}${s.secret ? '' : `, got ${show(v)}`}`);
      return undefined;
    }
    case 'Unknown':
      return refined(s, v, path, p);
    default:
      throw new TypeError(`config schema: no checker for ${String(s[Kind])} at ${path || '(root)'}`);
  }
}
