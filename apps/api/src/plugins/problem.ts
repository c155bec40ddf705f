import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isAppError } from '@mfb/errors';
import { NoQuery, ProblemSchema, type Problem } from '@mfb/client';
import { ApiProblem, HTTP_PROBLEMS, InvalidIdError, type HttpProblemCode } from '../errors.js';

/** Media type of every error answer (RFC 9457). */
export const PROBLEM_JSON = 'application/problem+json';

/** `ProblemSchema` under a shared id (`Problem#`): one `Problem` component in the OpenAPI document. */
export const ProblemRefSchema = { ...ProblemSchema, $id: 'Problem' };

/** Codes for the framework's own client errors (content-type parser, router, limits). */
const FASTIFY_CODES: Record<string, HttpProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_JSON_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_CONTENT_LENGTH',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

const GENERIC_CODES: Record<number, HttpProblemCode | 'AUTH_REQUIRED'> = {
  400: 'BAD_REQUEST',
  401: 'AUTH_REQUIRED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** The generic code of an HTTP error status (for answers that carry no code of their own). */
export function genericCode(status: number): string {
  return GENERIC_CODES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST');
}

/**
 * Fastify's `frameworkErrors`: router-level failures (malformed URL encoding, a path
 * parameter longer than `maxParamLength`) answered before any hook runs.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  void sendProblem(reply, httpProblem(request, tooLong ? 'URI_TOO_LONG' : 'BAD_URL', tooLong ? 'a path segment is too long' : 'the URL is malformed'));
}

/** A problem with one of the API's own codes (`HTTP_PROBLEMS`), which also gives its status. */
export function httpProblem(request: FastifyRequest, code: HttpProblemCode, detail: string, extra: Partial<Problem> = {}): Problem {
  return problem(request, HTTP_PROBLEMS[code], code, detail, extra);
}

const ID_KINDS: Record<string, ConstructorParameters<typeof InvalidIdError>[0]> = {
  '/databaseId': 'database',
  '/backupId': 'backup',
  '/scheduleId': 'schedule',
  '/jobId': 'job',
};

/** A path id that fails its pattern is malformed (INVALID_ID), not "not found" nor a generic validation error. */
function malformedId(error: FastifyError, request: FastifyRequest): InvalidIdError | null {
  if (error.validationContext !== 'params' || !error.validation?.length) return null;
  const v = error.validation[0]!;
  const kind = ID_KINDS[v.instancePath];
  if (!kind || v.keyword !== 'pattern') return null;
  const value = (request.params as Record<string, unknown>)[v.instancePath.slice(1)];
  return new InvalidIdError(kind, String(value), String((v.params as { pattern?: unknown }).pattern));
}

/** Errors Node's HTTP parser raises before a request exists, and what we answer. */
function clientErrorAnswer(code: string | undefined): { code: HttpProblemCode; detail: string } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'REQUEST_TIMEOUT', detail: 'the request (headers and body) did not arrive in time (api.requestTimeoutMs / api.headersTimeoutMs)' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', detail: 'the request headers are too large' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { code: 'INVALID_CONTENT_LENGTH', detail: 'the Content-Length header is invalid or conflicts with Transfer-Encoding' };
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { code: 'INVALID_CHUNKED_ENCODING', detail: 'the chunked transfer encoding of the body is malformed' };
    default:
      return { code: 'BAD_REQUEST', detail: 'the request is not valid HTTP/1.1' };
  }
}

/**
 * Fastify's `clientErrorHandler`: Node's HTTP server found a malformed request (bad
 * Content-Length, bad chunking, oversized headers) or a request that did not arrive within the
 * timeouts. There is no request object, so the problem is written to the socket directly (as
 * Node and Fastify do by default, but as problem+json) and the connection is closed. The
 * `instance` is a fresh `urn:uuid:` (there is no trustworthy path).
 */
export function clientErrorHandler(this: { log: { debug(o: object, m: string): void } }, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const a = clientErrorAnswer(err.code);
  const status = HTTP_PROBLEMS[a.code];
  const requestId = randomUUID();
  this.log.debug({ err: { code: err.code, message: err.message }, requestId }, 'malformed or late request');
  // A response already under way on this socket (keep-alive) cannot get a second status line.
  const busy = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !busy) {
    const body = JSON.stringify({
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Error',
      status: status,
      detail: a.detail,
      code: a.code,
      instance: `urn:uuid:${requestId}`,
      requestId,
    } satisfies Problem);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        `content-type: ${PROBLEM_JSON}; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}

/** Build a problem document for `request`. */
export function problem(request: FastifyRequest, status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem {
  const path = request.url.split('?')[0] ?? '/';
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    instance: path.length > 300 ? path.slice(0, 300) + '...' : path,
    requestId: request.id,
    ...extra,
  };
}

/** Send a problem as `application/problem+json` (a string: bypasses the route's serializer). */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type(`${PROBLEM_JSON}; charset=utf-8`).send(JSON.stringify(p));
}

/** ioredis failures that mean "Redis is down", not "this request is wrong". */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    /Connection is closed|enableOfflineQueue|Stream isn't writeable/.test(err.message)
  );
}

interface RouteShape {
  re: RegExp;
  methods: Set<string>;
}

function toRegExp(url: string): RegExp {
  const body = url
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}/?$`);
}

/**
 * The one error handler: every error becomes `application/problem+json` with a stable `code`.
 * Client mistakes (validation, bad JSON, oversized body, wrong media type, unknown route,
 * wrong method) are 4xx; anything unexpected is a 500 whose detail reveals nothing internal.
 */
export const problemPlugin = fp(
  async (app) => {
    app.addSchema(ProblemRefSchema);
    const routes = new Map<string, RouteShape>();
    app.addHook('onRoute', (opts) => {
      // Unknown fields are rejected everywhere, query strings included: /v1 routes that take
      // no query options get an empty closed schema.
      if (opts.url.startsWith('/v1') && opts.schema && !opts.schema.querystring) opts.schema = { ...opts.schema, querystring: NoQuery };
      const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
      const shape = routes.get(opts.url) ?? { re: toRegExp(opts.url), methods: new Set<string>() };
      for (const m of methods) shape.methods.add(m.toUpperCase());
      routes.set(opts.url, shape);
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      const allowed = new Set<string>();
      for (const shape of routes.values()) if (shape.re.test(path)) for (const m of shape.methods) allowed.add(m);
      if (allowed.size > 0 && !allowed.has(request.method)) {
        reply.header('allow', [...allowed].sort().join(', '));
        return sendProblem(reply, httpProblem(request, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed here; allowed: ${[...allowed].sort().join(', ')}`));
      }
      return sendProblem(reply, httpProblem(request, 'NOT_FOUND', `no route ${request.method} ${path.slice(0, 200)}`));
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error.validation) {
        const where = error.validationContext ?? 'request';
        const errors = error.validation.slice(0, 20).map((v) => ({
          path: `${where}${v.instancePath || ''}`,
          message: v.keyword === 'additionalProperties'
            ? `unknown field "${String((v.params as { additionalProperty?: unknown }).additionalProperty).slice(0, 100)}"`
            : (v.message ?? 'is invalid'),
        }));
        const first = errors[0];
        const badId = malformedId(error, request);
        if (badId) return sendProblem(reply, problem(request, badId.status, badId.code, badId.message, { errors }));
        return sendProblem(
          reply,
          httpProblem(request, 'VALIDATION_FAILED', first ? `${first.path} ${first.message}` : 'request is invalid', { errors }),
        );
      }
      if (isAppError(error)) {
        const status = error.status >= 400 && error.status <= 599 ? error.status : 500;
        if (status >= 500) request.log.error({ err: error }, 'request failed');
        if (error instanceof ApiProblem && error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
        // 5xx AppErrors are ours (Redis down, storage unreachable): their message is safe by
        // project rule (no secrets) and helps the operator.
        return sendProblem(reply, problem(request, status, error.code, error.message));
      }
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode <= 599 ? error.statusCode : 500;
      if (status < 500) {
        const code = (error.code && FASTIFY_CODES[error.code]) ?? GENERIC_CODES[status] ?? 'BAD_REQUEST';
        return sendProblem(reply, problem(request, status, code, error.message || STATUS_CODES[status] || 'bad request'));
      }
      if (isRedisUnavailable(error)) {
        request.log.error({ err: error }, 'redis unavailable');
        reply.header('retry-after', '5');
        return sendProblem(reply, httpProblem(request, 'REDIS_UNAVAILABLE', 'the job queue (Redis) is unreachable; retry shortly'));
      }
      request.log.error({ err: error }, 'unexpected error');
      if (status === 503) return sendProblem(reply, httpProblem(request, 'SERVICE_UNAVAILABLE', 'service temporarily unavailable'));
      return sendProblem(reply, httpProblem(request, 'INTERNAL_ERROR', `unexpected error; quote request id ${request.id} to the operator`));
    });
  },
  { name: 'mfb-problem', fastify: '5.x' },
);
