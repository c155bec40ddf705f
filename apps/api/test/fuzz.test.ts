import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, KEYS, fakeManifest, startTestApp, type TestApp } from './helpers.js';
import { ROUTES, fill } from './routes-table.js';

/**
 * Property: whatever a client sends, the API never answers 5xx, and every error is
 * problem+json with a code. Requests carry an admin key so they reach the handlers.
 */
let t: TestApp;
let validBackup = '';
beforeAll(async () => {
  t = await startTestApp();
  const m = fakeManifest('main', new Date());
  await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
  validBackup = m.backupId;
});
/** Figures for docs/reliability.md: requests sent, 5xx answered, answers that carried a secret. */
const figures = { sent: 0, serverErrors: 0, secretsInBodies: 0 };
const SECRETS = [...Object.values(KEYS), ADMIN_PASSWORD];
function tally(res: { statusCode: number; body: string; headers: Record<string, unknown> }): void {
  figures.sent++;
  if (res.statusCode >= 500) figures.serverErrors++;
  const text = res.body + JSON.stringify(res.headers);
  if (SECRETS.some((k) => text.includes(k))) figures.secretsInBodies++;
}
afterAll(async () => {
  await t?.close();
  console.log(`api fuzz: ${figures.sent} malformed requests sent, ${figures.serverErrors} answered 5xx, ${figures.secretsInBodies} answers carried a configured secret`);
  expect(figures.secretsInBodies).toBe(0);
});

const HOSTILE = [
  '../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '/etc/passwd',
  '..',
  '.',
  '',
  ' ',
  '%00',
  '\u0000',
  'a'.repeat(300),
  'x'.repeat(5000),
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '__proto__',
  'constructor',
  'main',
  'MAIN',
  'main\n',
  '-1',
  '1e309',
  'NaN',
  'null',
  'true',
  '\u202e',
  '😀',
];

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('main', 'other', 'nightly', validBackup || '20260101T000000000Z-00000000') },
);

const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0, 1, 500, 501, 1e9, -1e9, Number.MAX_SAFE_INTEGER, 1.5),
  fc.integer(),
  fc.double({ noNaN: false }),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
);

const FIELD_NAMES = [
  'at', 'backupId', 'mode', 'targetPath', 'from', 'scheduleId', 'cron', 'timezone', 'job', 'paused',
  'limit', 'cursor', 'status', 'target', 'createdAfter', 'createdBefore', 'databaseId', '__proto__', 'extra',
];

const hostileCron = fc.oneof(
  fc.constantFrom('* * * * *', '* * * * * *', '0 0 31 2 *', '61 * * * *', '@yearly', '0 0 * * 8', '*/0 * * * *', '1-1000000 * * * *', 'a b c d e', '0 0 L * *', '0 0 ? * 5#6', '0'.repeat(200)),
  fc.string({ maxLength: 60 }),
  fc.array(fc.constantFrom('*', '0', '59', '*/5', '1-3', ',', 'L', '#', '?', 'W', '-1', '99999'), { minLength: 1, maxLength: 8 }).map((a) => a.join(' ')),
);
const hostileTz = fc.oneof(fc.constantFrom('UTC', 'Europe/Berlin', 'Mars/Olympus', '../../etc/passwd', '', 'Etc/GMT+99', 'utc', 'America/New_York\u0000'), fc.string({ maxLength: 40 }));

const body = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELD_NAMES), hostileValue, { maxKeys: 5 }),
  fc.record(
    {
      backupId: fc.oneof(hostileString, fc.constant(validBackup)),
      mode: fc.constantFrom('new', 'replace', 'bogus'),
      targetPath: hostileString,
      scheduleId: hostileString,
      cron: hostileCron,
      timezone: hostileTz,
      at: fc.oneof(hostileString, fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 3 }),
);

const rawBody = fc.oneof(
  { weight: 5, arbitrary: body.map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.constantFrom('{', '{"a":', 'null', '[]', '""', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', 'x'.repeat(70_000)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', undefined);

const query = fc.dictionary(
  fc.constantFrom(...FIELD_NAMES),
  fc.oneof(hostileString, hostileNumber.map(String)),
  { maxKeys: 4 },
);

function qs(q: Record<string, string>): string {
  const s = new URLSearchParams(q).toString();
  return s ? `?${s}` : '';
}

const RUNS = Number(process.env.API_FUZZ_RUNS ?? 40);

describe('fuzz: never 5xx, errors are problem+json', () => {
  for (const r of ROUTES) {
    it(`${r.method} ${r.url}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({ db: hostileString, backup: hostileString, schedule: hostileString, job: hostileString }),
          query,
          fc.option(rawBody, { nil: undefined }),
          contentType,
          fc.boolean(),
          async (params, q, payload, ct, useXKey) => {
            const url = fill(r.url, params) + qs(q);
            const headers: Record<string, string> = useXKey ? { 'x-api-key': KEYS.admin } : { authorization: `Bearer ${KEYS.admin}` };
            if (payload !== undefined && ct !== undefined) headers['content-type'] = ct;
            const res = await t.app.inject({ method: r.method, url, headers, ...(payload !== undefined ? { payload } : {}) });
            tally(res);
            if (res.statusCode >= 500) throw new Error(`${r.method} ${url} -> ${res.statusCode}: ${res.body.slice(0, 500)}`);
            if (res.statusCode >= 400) {
              const ctype = String(res.headers['content-type'] ?? '');
              expect(ctype, `${r.method} ${url} -> ${res.statusCode}`).toMatch(/^application\/problem\+json/);
              const p = JSON.parse(res.body) as { code?: unknown; status?: unknown };
              expect(typeof p.code).toBe('string');
              expect(p.status).toBe(res.statusCode);
            }
          },
        ),
        { numRuns: RUNS },
      );
    });
  }

  it('raw hostile paths (unencoded traversal, long, odd methods)', async () => {
    const paths = [
      '/v1/databases/../../etc/passwd',
      '/v1/databases/main/backups/../../../../etc/passwd',
      '/v1/../../etc/passwd',
      '//v1//databases',
      '/v1/databases/' + 'a'.repeat(10_000),
      '/v1/databases/main/backups?limit=1&limit=2',
      '/v1/databases/main/backups?limit[]=1',
      '/v1/databases/main/backups?cursor=' + 'A'.repeat(600),
      '/v1/jobs/%',
      '/v1/jobs/%E0%A4%A',
      '/%2e%2e/%2e%2e/etc/passwd',
      // Bull Board JSON.parses some query values; its 500 for these is mapped to 400 problem+json.
      '/admin/queues/api/queues?status=%00',
      '/admin/queues/api/queues?page=%7B',
    ];
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const) {
      for (const url of paths) {
        const res = await t.app.inject({ method, url, headers: { authorization: `Bearer ${KEYS.admin}` } });
        tally(res);
        expect(res.statusCode, `${method} ${url}`).toBeLessThan(500);
        if (res.statusCode >= 400 && method !== 'HEAD') {
          expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
        }
      }
    }
  });
});
