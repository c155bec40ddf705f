/**
 * One cron rule (issue 9, item 7): every pattern below is accepted by both the config file
 * (`loadConfig`) and the API route that creates schedules, or refused by both. Before the rule
 * was shared the file took `61 * * * *`, `0 0 31 2 *` and `* * * * * *`, which the API refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@mfb/config';
import { bearer, problemOf, startTestApp, type TestApp } from './helpers.js';

/** [cron, time zone, accepted, the API's code when refused] */
const CASES: Array<[string, string, boolean, string?]> = [
  ['0 3 * * *', 'UTC', true],
  ['*/5 * * * *', 'Europe/Berlin', true],
  ['* * * * *', 'UTC', true],
  ['0 0 * * 1-5', 'America/New_York', true],
  ['0 0 1 jan,jul *', 'UTC', true],
  ['30 2 * * MON', 'UTC', true],
  ['0 */2 * * * *', 'UTC', true],
  ['0 0 L * *', 'UTC', true],
  ['  15 4 * * *  ', 'UTC', true],
  ['61 * * * *', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['0 25 * * *', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['0 0 31 2 *', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['0 3 * *', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['0 3 * * * * *', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['@daily', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['0 3 * * $', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['not a cron', 'UTC', false, 'SCHEDULE_INVALID_CRON'],
  ['* * * * * *', 'UTC', false, 'SCHEDULE_TOO_FREQUENT'],
  ['*/10 * * * * *', 'UTC', false, 'SCHEDULE_TOO_FREQUENT'],
  ['0,30 */5 * * * *', 'UTC', false, 'SCHEDULE_TOO_FREQUENT'],
  ['0 3 * * *', 'Mars/Olympus', false, 'SCHEDULE_INVALID_TIMEZONE'],
];

let t: TestApp;
let dir: string;
beforeAll(async () => {
  t = await startTestApp();
  dir = mkdtempSync(join(tmpdir(), 'mfb-cron-parity-'));
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

function configAccepts(cron: string, timezone: string): boolean {
  const file = join(dir, 'c.yaml');
  writeFileSync(file, `databases:\n  - id: a\n    path: /a.db\n    schedules:\n      - id: s\n        cron: ${JSON.stringify(cron)}\n        timezone: ${JSON.stringify(timezone)}\n`);
  try {
    loadConfig({ file, env: {}, cwd: dir });
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return false;
  }
}

describe('the config file and POST /v1/databases/:id/schedules accept the same crons', () => {
  it.each(CASES.map((c, i) => [i, ...c] as const))('#%i %j (%s): accepted = %s', async (i, cron, timezone, accepted, code) => {
    expect(configAccepts(cron, timezone), 'loadConfig').toBe(accepted);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/databases/main/schedules',
      headers: { ...bearer('write'), 'content-type': 'application/json' },
      payload: JSON.stringify({ scheduleId: `s${i}`, cron, timezone, paused: true }),
    });
    if (accepted) expect(res.statusCode, res.body).toBe(201);
    else {
      expect(res.statusCode).toBe(400);
      expect(problemOf(res).code).toBe(code);
    }
  });
});
