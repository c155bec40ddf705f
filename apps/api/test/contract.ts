/**
 * Checks real answers of the API against its own OpenAPI document: the status is declared for
 * the operation, the content type is one the document lists, a JSON body validates (ajv)
 * against the declared schema, declared integer headers are integers, and the API's own
 * headers (Location, retry-after, ...) are declared where they are sent. Answers of paths the
 * document does not describe (unknown URLs, /docs, /admin/queues) must still be problem+json
 * when they are errors.
 *
 * Used by `startTestApp` (every `app.inject` of the route suites) and by `contractFetch` (the
 * typed client's requests in the client and e2e suites).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type FormatsPlugin = (ajv: Ajv) => Ajv;
const formatsModule = addFormatsModule as unknown as FormatsPlugin & { default?: FormatsPlugin };
const addFormats: FormatsPlugin = formatsModule.default ?? formatsModule;

type Json = Record<string, unknown>;

interface MediaDoc {
  schema?: Json;
}
interface ResponseDoc {
  headers?: Record<string, { schema?: { type?: string } }>;
  content?: Record<string, MediaDoc>;
}
interface Operation {
  operationId?: string;
  responses: Record<string, ResponseDoc>;
}

export interface Answer {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** The body as text; `undefined` when it was not read (a stream). */
  body: string | undefined;
}

/** Headers the API sets itself that a client may rely on: each must be declared where it is sent. */
const API_HEADERS = ['location', 'retry-after', 'x-checksum-sha256', 'content-disposition', 'www-authenticate'];

const essence = (contentType: string): string => (contentType.split(';')[0] ?? '').trim().toLowerCase();

export class ContractChecker {
  private readonly ajv = new Ajv({ strict: false, allErrors: false, validateFormats: true });
  private readonly ops: Array<{ re: RegExp; template: string; methods: Record<string, Operation> }> = [];
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly problem: ValidateFunction;
  /** Operation ids and statuses seen, for "every operation was exercised" checks. */
  readonly seen = new Set<string>();

  constructor(doc: Json) {
    addFormats(this.ajv);
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema({ $id: 'openapi', components: doc['components'] ?? {} });
    for (const [template, methods] of Object.entries((doc['paths'] ?? {}) as Record<string, Record<string, Operation>>)) {
      const re = new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '/?$');
      this.ops.push({ re, template, methods });
    }
    this.problem = this.compile({ $ref: '#/components/schemas/Problem' });
  }

  private compile(schema: Json): ValidateFunction {
    const text = JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/');
    let v = this.validators.get(text);
    if (!v) {
      v = this.ajv.compile(JSON.parse(text) as Json);
      this.validators.set(text, v);
    }
    return v;
  }

  /** The violations of one answer (empty when it matches the document). */
  check(a: Answer): string[] {
    const where = `${a.method} ${a.url} -> ${a.status}`;
    const out: string[] = [];
    const header = (name: string): string | undefined => {
      const v = a.headers[name];
      return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : String(v);
    };
    const type = essence(header('content-type') ?? '');
    const path = a.url.split('?')[0] ?? '/';
    const entry = this.ops.find((o) => o.re.test(path));
    const op = entry?.methods[a.method.toLowerCase()];

    if (!entry || !op) {
      // Not described (unknown URL, wrong method, /docs, Bull Board): errors are still problems.
      if (a.status >= 400 && a.method !== 'HEAD') {
        if (type !== 'application/problem+json') out.push(`${where}: error answered as "${type}", not application/problem+json`);
        else out.push(...this.validateJson(where, this.problem, a.body));
      }
      return out;
    }

    const status = String(a.status);
    const res = op.responses[status] ?? op.responses[`${status[0]}XX`] ?? op.responses['default'];
    if (!res) return [`${where}: status ${status} is not declared for ${op.operationId ?? entry.template}`];
    this.seen.add(`${op.operationId}:${status}`);

    for (const name of API_HEADERS) {
      if (header(name) !== undefined && !res.headers?.[name]) out.push(`${where}: sends header "${name}" that the document does not declare`);
    }
    for (const [name, h] of Object.entries(res.headers ?? {})) {
      const v = header(name);
      if (v !== undefined && h.schema?.type === 'integer' && !/^\d+$/.test(v)) out.push(`${where}: header ${name}="${v}" is not an integer`);
    }

    if (!res.content) {
      if (a.body) out.push(`${where}: the document declares no body, got ${a.body.length} characters`);
      return out;
    }
    if (a.method === 'HEAD') return out;
    const mediaKey = Object.keys(res.content).find((k) => essence(k) === type);
    if (mediaKey === undefined) {
      out.push(`${where}: content type "${type}" is not declared (declared: ${Object.keys(res.content).join(', ')})`);
      return out;
    }
    const schema = res.content[mediaKey]?.schema;
    if (schema && (type === 'application/json' || type === 'application/problem+json')) out.push(...this.validateJson(where, this.compile(schema), a.body));
    return out;
  }

  private validateJson(where: string, validate: ValidateFunction, body: string | undefined): string[] {
    if (body === undefined) return [];
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return [`${where}: body is not JSON: ${body.slice(0, 200)}`];
    }
    if (validate(value)) return [];
    const errs = (validate.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`);
    return [`${where}: body does not match the schema: ${errs.join('; ')}; body ${body.slice(0, 300)}`];
  }

  /** Throws with every violation of `a`. */
  assert(a: Answer): void {
    const v = this.check(a);
    if (v.length) throw new Error(`answer does not match the OpenAPI document:\n${v.join('\n')}`);
  }
}

/**
 * A `fetch` for `createClient` that checks every answer against the document (the body of
 * non-JSON answers, such as an artifact download, is left unread).
 */
export function contractFetch(checker: ContractChecker, inner: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    const type = essence(headers['content-type'] ?? '');
    const body = type.endsWith('json') ? await res.clone().text() : res.status === 204 ? '' : undefined;
    checker.assert({ method: (init?.method ?? 'GET').toUpperCase(), url: url.pathname + url.search, status: res.status, headers, body });
    return res;
  };
}
