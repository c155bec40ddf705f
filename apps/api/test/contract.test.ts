import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/openapi.js';
import { bearer, basic, ADMIN_USER, ADMIN_PASSWORD, startTestApp, type TestApp } from './helpers.js';
import { ContractChecker, type Answer } from './contract.js';

/**
 * The published contract (OpenAPI at /docs/json) against the wire: the document itself, bodies
 * that are optional, and the answers produced below the routes (Node's HTTP parser, timeouts,
 * Bull Board). Every answer of the route suites is also checked against the document by
 * `startTestApp` (see contract.ts).
 */
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

type Json = Record<string, unknown>;
interface Op {
  operationId?: string;
  requestBody?: { required?: boolean; content: Record<string, unknown> };
  responses: Record<string, { headers?: Json; content?: Record<string, { schema?: Json }> }>;
}

function operations(doc: Json): Array<{ path: string; method: string; op: Op }> {
  return Object.entries(doc['paths'] as Record<string, Record<string, Op>>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method, op })),
  );
}

/** Send raw bytes on a fresh connection; resolve with everything the server wrote before closing. */
function rawExchange(port: number, chunks: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (b) => (got += b.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    socket.on('close', () => resolve(got));
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
    });
  });
}

/** Parse a raw HTTP/1.1 answer into what the contract checker needs. */
function parseRaw(raw: string, method: string, url: string): Answer {
  const end = raw.indexOf('\r\n\r\n');
  expect(end, `no complete HTTP answer in ${JSON.stringify(raw.slice(0, 200))}`).toBeGreaterThan(0);
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { method, url, status: Number(statusLine!.split(' ')[1]), headers, body: raw.slice(end + 4) };
}

describe('the OpenAPI document', () => {
  it('names every operation, has a server, and declares errors as problem+json with the Problem schema', async () => {
    const doc = await openApiDocument();
    expect(doc['servers']).toEqual([expect.objectContaining({ url: '/' })]);
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThanOrEqual(23);
    const ids = ops.map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, op } of ops) {
      for (const [status, res] of Object.entries(op.responses)) {
        // `/v1/health` answers 503 with its report (a dashboard reads why) or a problem (overload).
        if (op.operationId === 'health' && status === '503') {
          expect(Object.keys(res.content ?? {}).sort(), `${method} ${path} ${status}`).toEqual(['application/json', 'application/problem+json']);
        } else if (/^[45]/.test(status)) {
          expect(Object.keys(res.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
          expect(res.content!['application/problem+json']!.schema).toEqual({ $ref: '#/components/schemas/Problem' });
        }
        expect(res.headers?.['x-request-id'], `${method} ${path} ${status}`).toBeDefined();
      }
    }
    const byId = new Map(ops.map((o) => [o.op.operationId, o.op]));
    const artifact = byId.get('downloadBackup')!.responses['200']!;
    expect(Object.keys(artifact.content!)).toEqual(['application/octet-stream']);
    expect(Object.keys(artifact.headers!)).toEqual(expect.arrayContaining(['content-disposition', 'x-checksum-sha256', 'content-length']));
    expect(Object.keys(byId.get('getMetrics')!.responses['200']!.content!)).toEqual(['text/plain']);
    expect(Object.keys(byId.get('triggerBackup')!.responses['202']!.headers!)).toContain('location');
    expect(Object.keys(byId.get('createSchedule')!.responses['201']!.headers!)).toContain('location');
    expect(Object.keys(byId.get('triggerBackup')!.responses['429']!.headers!)).toContain('retry-after');
    expect(Object.keys(byId.get('deleteBackup')!.responses['409']!.headers!)).toContain('retry-after');
    // Bodies that may be left out are optional; the others are required.
    const optional = ops.filter((o) => o.op.requestBody?.required === false).map((o) => o.op.operationId).sort();
    expect(optional).toEqual(['pauseSchedule', 'rebuildCatalog', 'resumeSchedule', 'triggerBackup', 'verify']);
    const required = ops.filter((o) => o.op.requestBody?.required === true).map((o) => o.op.operationId).sort();
    expect(required).toEqual(['createSchedule', 'restore', 'updateSchedule']);
  });

  it('the checker used by every suite refuses answers that do not match it', async () => {
    const c = new ContractChecker(await openApiDocument());
    const json = { 'content-type': 'application/json; charset=utf-8' };
    const problem = { 'content-type': 'application/problem+json; charset=utf-8' };
    const p404 = JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'x', code: 'NOT_FOUND', instance: '/x' });
    const accepted = JSON.stringify({ jobId: 'backup-1', queue: 'backup', statusUrl: '/v1/jobs/backup-1', deduplicated: false });
    const post = { method: 'POST', url: '/v1/databases/main/backups' };
    expect(c.check({ ...post, status: 202, headers: { ...json, location: '/v1/jobs/backup-1' }, body: accepted })).toEqual([]);
    expect(c.check({ ...post, status: 404, headers: problem, body: p404 })).toEqual([]);
    expect(c.check({ ...post, status: 404, headers: json, body: p404 })[0]).toMatch(/content type "application\/json" is not declared/);
    expect(c.check({ ...post, status: 202, headers: json, body: '{"jobId":"backup-1"}' })[0]).toMatch(/does not match the schema/);
    expect(c.check({ ...post, status: 200, headers: json, body: accepted })[0]).toMatch(/status 200 is not declared/);
    expect(c.check({ ...post, status: 202, headers: { ...json, 'x-checksum-sha256': 'ab' }, body: accepted })[0]).toMatch(/does not declare/);
    expect(c.check({ method: 'GET', url: '/nowhere', status: 404, headers: json, body: '{}' })[0]).toMatch(/not application\/problem\+json/);
  });

  it('optional bodies may be left out on the wire; required ones may not', async () => {
    t = await startTestApp();
    await t.catalog.upsertSchedule({ databaseId: 'main', scheduleId: 'nightly', job: 'backup', cron: '0 2 * * *', timezone: 'UTC', paused: false, origin: 'api' });
    const doc = t.app.swagger() as Json;
    for (const { path, method, op } of operations(doc)) {
      if (!op.requestBody) continue;
      const url = path.replace('{databaseId}', 'main').replace('{scheduleId}', 'nightly');
      const res = await t.app.inject({ method: method.toUpperCase() as 'POST', url, headers: bearer('admin') });
      const code = res.statusCode >= 400 ? (res.json() as { code: string }).code : 'ok';
      if (op.requestBody.required) expect(code, `${method} ${url} without a body`).toBe('VALIDATION_FAILED');
      else expect(res.statusCode, `${method} ${url} without a body: ${res.body}`).toBeLessThan(300);
    }
  });
});

describe('answers produced below the routes are problem+json', () => {
  async function listening(api: Parameters<typeof startTestApp>[0] = {}): Promise<number> {
    t = await startTestApp(api);
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    return Number(new URL(address).port);
  }

  const cases: Array<[string, string[], number, string]> = [
    ['a malformed Content-Length', ['POST /v1/databases/main/backups HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n{}'], 400, 'INVALID_CONTENT_LENGTH'],
    [
      'malformed chunked encoding',
      ['POST /v1/databases/main/backups HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
      400,
      'INVALID_CHUNKED_ENCODING',
    ],
    ['oversized headers', [`GET /v1/databases HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`], 431, 'HEADERS_TOO_LARGE'],
    ['a request line that is not HTTP', ['BREW /coffee HTCPCP/1.0\r\n\r\n'], 400, 'BAD_REQUEST'],
  ];
  for (const [name, chunks, status, code] of cases) {
    it(name, async () => {
      const port = await listening();
      const a = parseRaw(await rawExchange(port, chunks), 'POST', '/v1/databases/main/backups');
      expect(a.status).toBe(status);
      expect(a.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(a.body!)).toMatchObject({ status, code, instance: expect.stringMatching(/^urn:uuid:/) });
      t!.checker.assert(a);
    });
  }

  it('a client that sends half a body gets 408 and loses the connection (api.requestTimeoutMs)', async () => {
    const port = await listening({ api: { requestTimeoutMs: 1000, headersTimeoutMs: 1000 } });
    const head = `POST /v1/databases/main/backups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bearer('write').authorization!.slice(7)}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    // The socket then stays silent: without a request timeout this would hang until the test times out.
    const a = parseRaw(await rawExchange(port, [head, '{"at": "20']), 'POST', '/v1/databases/main/backups');
    expect(a.status).toBe(408);
    expect(JSON.parse(a.body!)).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
    t!.checker.assert(a);
  });

  it('headers that never finish get 408 too (api.headersTimeoutMs)', async () => {
    const port = await listening({ api: { requestTimeoutMs: 1000, headersTimeoutMs: 1000 } });
    const a = parseRaw(await rawExchange(port, ['GET /v1/databases HTTP/1.1\r\nHost: x\r\nX-Slow: ']), 'GET', '/v1/databases');
    expect(a.status).toBe(408);
    expect(JSON.parse(a.body!)).toMatchObject({ code: 'REQUEST_TIMEOUT' });
  });

  it("Bull Board's own 404 and 400 answers", async () => {
    t = await startTestApp();
    const headers = basic(ADMIN_USER, ADMIN_PASSWORD);
    const unknownQueue = await t.app.inject({ url: '/admin/queues/api/queues/nope/1', headers });
    expect(unknownQueue.statusCode).toBe(404);
    expect(unknownQueue.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(unknownQueue.json()).toMatchObject({ status: 404, code: 'NOT_FOUND', instance: '/admin/queues/api/queues/nope/1' });
    const badQuery = await t.app.inject({ url: '/admin/queues/api/queues?status=%00', headers });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json()).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
  });
});

describe('GET /v1/schedules', () => {
  it('an unknown databaseId is 404 DATABASE_NOT_FOUND, like the nested route', async () => {
    t = await startTestApp();
    for (const url of ['/v1/schedules?databaseId=payroll', '/v1/databases/payroll/schedules']) {
      const res = await t.app.inject({ url, headers: bearer('read') });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().code).toBe('DATABASE_NOT_FOUND');
    }
    expect((await t.app.inject({ url: '/v1/schedules?databaseId=main', headers: bearer('read') })).statusCode).toBe(200);
  });
});
