import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, ADMIN_USER, KEYS, basic, fakeManifest, problemOf, startTestApp, type TestApp } from './helpers.js';
import { ROUTES, fill, fillBody, type RouteCase } from './routes-table.js';

let t: TestApp;
const values: Record<string, string> = { db: 'main', schedule: 'nightly', job: 'backup-00000000-0000-0000-0000-000000000000' };

beforeAll(async () => {
  t = await startTestApp();
  const m = fakeManifest('main', new Date());
  await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
  values.backup = m.backupId;
});
afterAll(async () => {
  await t?.close();
});

type Who = 'none' | 'wrong' | 'read' | 'write' | 'admin';
const RANK = { public: -1, read: 0, write: 1, admin: 2 } as const;

function headersFor(who: Who, how: 'bearer' | 'x-api-key'): Record<string, string> {
  if (who === 'none') return {};
  const key = who === 'wrong' ? 'this-is-not-a-configured-key-000000' : KEYS[who];
  return how === 'bearer' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key };
}

async function call(r: RouteCase, headers: Record<string, string>) {
  const body = fillBody(r.body, values);
  return t.app.inject({
    method: r.method,
    url: fill(r.url, values),
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

describe('auth matrix: every route x {no key, wrong key, read, write, admin}', () => {
  for (const r of ROUTES) {
    for (const who of ['none', 'wrong', 'read', 'write', 'admin'] as const) {
      const how = who === 'write' ? 'x-api-key' : 'bearer';
      it(`${r.method} ${r.url} as ${who} (${how})`, async () => {
        const res = await call(r, headersFor(who, how));
        if (r.scope === 'public') {
          expect(res.statusCode).toBe(200);
          return;
        }
        if (who === 'none' || who === 'wrong') {
          expect(res.statusCode).toBe(401);
          expect(problemOf(res).code).toBe(who === 'none' ? 'AUTH_REQUIRED' : 'AUTH_INVALID_CREDENTIALS');
          expect(res.headers['www-authenticate']).toMatch(/^(docs|admin|status)/.test(r.url.slice(1)) ? /^Basic realm=/ : /^Bearer realm=/);
          return;
        }
        if (RANK[who] < RANK[r.scope]) {
          expect(res.statusCode).toBe(403);
          expect(problemOf(res).code).toBe('AUTH_INSUFFICIENT_SCOPE');
          return;
        }
        expect(res.statusCode, res.body.slice(0, 300)).toBeLessThan(500);
        expect([401, 403]).not.toContain(res.statusCode);
      });
    }
  }
});

describe('browser credentials (basic auth)', () => {
  it('the admin user opens Bull Board and the docs; a wrong password is 401', async () => {
    const ok = await t.app.inject({ url: '/admin/queues', headers: basic(ADMIN_USER, ADMIN_PASSWORD) });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toContain('text/html');
    const docs = await t.app.inject({ url: '/docs/json', headers: basic(ADMIN_USER, ADMIN_PASSWORD) });
    expect(docs.statusCode).toBe(200);
    const bad = await t.app.inject({ url: '/admin/queues', headers: basic(ADMIN_USER, 'guess') });
    expect(bad.statusCode).toBe(401);
    const none = await t.app.inject({ url: '/admin/queues' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Basic realm=');
  });

  it('an API key works as the basic-auth password, with its own scope', async () => {
    expect((await t.app.inject({ url: '/admin/queues', headers: basic('anyone', KEYS.admin) })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/admin/queues', headers: basic('anyone', KEYS.read) })).statusCode).toBe(403);
    expect((await t.app.inject({ url: '/v1/databases', headers: basic('anyone', KEYS.read) })).statusCode).toBe(200);
  });

  it('malformed authorization headers are 401, never 5xx', async () => {
    for (const authorization of ['Bearer', 'Basic', 'Basic !!!', 'Basic ' + Buffer.from('nocolon').toString('base64'), 'Token abc', 'Bearer  ', '\u00ff\u00fe']) {
      const res = await t.app.inject({ url: '/v1/databases', headers: { authorization } });
      expect(res.statusCode, authorization).toBe(401);
      problemOf(res);
    }
  });
});
