/**
 * The notifier against a real HTTP receiver and a real Redis (incident state): one failure and
 * one recovery message per incident however many failures, retries and workers; Slack and
 * Discord bodies; heartbeat pings; a receiver that is down costs the caller nothing.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver } from '@mfb/testkit';
import { Notifier, openIncidents, redactHookUrl, redisIncidentStore, type NotifierOptions, type NotifyRoute } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let redis: Redis;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await redis.quit();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

function notifier(prefix: string, route: NotifyRoute, extra: Partial<NotifierOptions> = {}): Notifier {
  const n = new Notifier({ routeFor: () => route, store: redisIncidentStore(redis, prefix), attempts: 3, backoffMs: 20, timeoutMs: 2000, ...extra });
  cleanups.push(() => n.close(100));
  return n;
}

async function receiver(opts: Parameters<typeof startWebhookReceiver>[0] = {}) {
  const r = await startWebhookReceiver(opts);
  cleanups.push(() => r.close());
  return r;
}

describe('notifier', () => {
  it('sends exactly one failure and one recovery per incident, across retries, repeated failures and two workers', async () => {
    // Every message's first delivery attempt gets a 503: each is retried once.
    const recv = await receiver({ answer: (_path, nth) => (nth % 2 === 1 ? 503 : 200) });
    const prefix = `t-${randomUUID()}`;
    const route: NotifyRoute = { webhooks: [{ url: `${recv.url}/hook/json`, format: 'json' }] };
    const a = notifier(prefix, route);
    const b = notifier(prefix, route);

    // Incident 1: three final failures seen by two workers, then two successes.
    a.report({ databaseId: 'ledger', job: 'backup', ok: false, error: 'BACKUP_SOURCE_BUSY: locked', jobId: 'j1' });
    await a.idle();
    b.report({ databaseId: 'ledger', job: 'backup', ok: false, error: 'BACKUP_SOURCE_BUSY: locked', jobId: 'j2' });
    a.report({ databaseId: 'ledger', job: 'backup', ok: false, error: 'BACKUP_SOURCE_BUSY: locked', jobId: 'j3' });
    await Promise.all([a.idle(), b.idle()]);
    expect(await openIncidents(redis, prefix)).toEqual(new Map([['ledger:backup', expect.any(String)]]));
    b.report({ databaseId: 'ledger', job: 'backup', ok: true, jobId: 'j4' });
    await b.idle();
    a.report({ databaseId: 'ledger', job: 'backup', ok: true, jobId: 'j5' });
    await a.idle();
    // Incident 2 of the same database.
    a.report({ databaseId: 'ledger', job: 'backup', ok: false, error: 'STORAGE_DISK_FULL: no space', jobId: 'j6' });
    await a.idle();
    b.report({ databaseId: 'ledger', job: 'backup', ok: true, jobId: 'j7' });
    await b.idle();

    const events = recv.delivered('/hook/json').map((r) => [r.json?.['event'], r.json?.['jobId']]);
    expect(events).toEqual([
      ['failure', 'j1'],
      ['recovery', 'j4'],
      ['failure', 'j6'],
      ['recovery', 'j7'],
    ]);
    // Each of the 4 messages was retried once after its 503: 8 requests, no more.
    expect(recv.received).toHaveLength(8);
    expect(a.stats.failed + b.stats.failed).toBe(0);
    const first = recv.delivered('/hook/json')[0]!.json!;
    expect(first).toMatchObject({ event: 'failure', databaseId: 'ledger', job: 'backup', target: null, error: 'BACKUP_SOURCE_BUSY: locked' });
    expect(await openIncidents(redis, prefix)).toEqual(new Map());
  });

  it('incident state survives a restart: a new notifier announces the recovery of an incident an earlier one opened', async () => {
    const recv = await receiver();
    const prefix = `t-${randomUUID()}`;
    const route: NotifyRoute = { webhooks: [{ url: `${recv.url}/h`, format: 'json' }] };
    const before = notifier(prefix, route);
    before.report({ databaseId: 'db', job: 'upload', target: 'nas', ok: false, error: 'STORAGE_UNAVAILABLE' });
    await before.close();
    const after = notifier(prefix, route);
    after.report({ databaseId: 'db', job: 'upload', target: 'offsite', ok: true });
    after.report({ databaseId: 'db', job: 'upload', target: 'nas', ok: false, error: 'again' });
    after.report({ databaseId: 'db', job: 'upload', target: 'nas', ok: true });
    await after.idle();
    expect(recv.delivered().map((r) => [r.json?.['event'], r.json?.['target']])).toEqual([
      ['failure', 'nas'],
      ['recovery', 'nas'],
    ]);
  });

  it('Slack and Discord bodies, heartbeat pings and /fail', async () => {
    const recv = await receiver();
    const prefix = `t-${randomUUID()}`;
    const n = notifier(prefix, {
      webhooks: [
        { url: `${recv.url}/slack`, format: 'slack' },
        { url: `${recv.url}/discord`, format: 'discord' },
        { url: `${recv.url}/only-recovery`, format: 'json', events: ['recovery'] },
      ],
      heartbeatUrl: `${recv.url}/ping/0b1c-uuid/`,
    });
    n.report({ databaseId: 'ledger', job: 'backup', ok: true });
    await n.idle();
    n.report({ databaseId: 'ledger', job: 'backup', ok: false, error: 'BACKUP_CORRUPT_SOURCE: not a database' });
    await n.idle();
    n.report({ databaseId: 'ledger', job: 'backup', ok: true });
    await n.idle();

    expect(recv.received.filter((r) => r.path.startsWith('/ping')).map((r) => r.path)).toEqual(['/ping/0b1c-uuid/', '/ping/0b1c-uuid/fail', '/ping/0b1c-uuid/']);
    expect(recv.received.find((r) => r.path.endsWith('/fail'))!.body).toContain('BACKUP_CORRUPT_SOURCE');

    const slack = recv.delivered('/slack').map((r) => r.json!);
    expect(slack).toHaveLength(2);
    expect(typeof slack[0]!['text']).toBe('string');
    expect(slack[0]!['text']).toContain('Backup of ledger failed: BACKUP_CORRUPT_SOURCE');
    expect(slack[0]!['attachments']).toEqual([expect.objectContaining({ color: 'danger', fields: expect.arrayContaining([{ title: 'Database', value: 'ledger', short: true }]) })]);
    expect(slack[1]!['text']).toContain('Backup of ledger recovered');
    expect((slack[1]!['attachments'] as Array<{ color: string }>)[0]!.color).toBe('good');

    const discord = recv.delivered('/discord').map((r) => r.json!);
    expect(discord).toHaveLength(2);
    expect(discord[0]).toMatchObject({ username: 'MyFinance Backup', content: expect.stringContaining('failed') });
    const embed = (discord[0]!['embeds'] as Array<Record<string, unknown>>)[0]!;
    expect(embed).toMatchObject({ title: 'Backup of ledger failed', description: 'BACKUP_CORRUPT_SOURCE: not a database', color: 0xd93f0b });
    expect(String(discord[0]!['content']).length).toBeLessThanOrEqual(2000);
    expect(recv.received.filter((r) => r.path === '/discord').every((r) => r.contentType === 'application/json')).toBe(true);

    expect(recv.delivered('/only-recovery').map((r) => r.json?.['event'])).toEqual(['recovery']);
  });

  it('a receiver that accepts and never answers costs report() nothing; messages time out, are retried, then given up and logged without the secret', async () => {
    const recv = await receiver({ hang: true });
    const prefix = `t-${randomUUID()}`;
    const warnings: Array<Record<string, unknown>> = [];
    const n = notifier(
      prefix,
      { webhooks: [{ url: `${recv.url}/services/T000/B000/SECRETTOKEN`, format: 'slack' }] },
      { timeoutMs: 200, attempts: 2, backoffMs: 10, log: { warn: (o) => warnings.push(o as Record<string, unknown>) } },
    );
    // Synchronous: the caller (the job) never waits for the network.
    const ret = n.report({ databaseId: 'ledger', job: 'backup', ok: false, error: 'boom' });
    expect(ret).toBeUndefined();
    await n.idle();
    expect(recv.received).toHaveLength(2);
    expect(n.stats).toMatchObject({ sent: 0, failed: 1 });
    expect(JSON.stringify(warnings)).not.toContain('SECRETTOKEN');
    expect(warnings.at(-1)).toMatchObject({ url: `${recv.url}/…`, err: 'timeout' });
  });

  it('a full queue drops new work instead of growing or blocking', async () => {
    const recv = await receiver({ hang: true });
    const n = notifier(`t-${randomUUID()}`, { webhooks: [], heartbeatUrl: `${recv.url}/ping/x` }, { queueSize: 2, timeoutMs: 60_000, attempts: 1 });
    for (let i = 0; i < 50; i++) n.report({ databaseId: 'ledger', job: 'backup', ok: true });
    expect(n.stats.dropped).toBeGreaterThanOrEqual(45);
    await n.close(50);
  });

  it('redactHookUrl keeps scheme and host only', () => {
    expect(redactHookUrl('https://user:pw@hooks.slack.com/services/T/B/XYZ?token=abc')).toBe('https://hooks.slack.com/…');
    expect(redactHookUrl('https://hc-ping.com')).toBe('https://hc-ping.com/');
    expect(redactHookUrl('not a url')).toBe('(invalid url)');
  });
});
