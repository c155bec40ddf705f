/**
 * The monitoring contract against a REAL Prometheus (Debian package `prometheus`, installed by
 * scripts/setup): it scrapes a real API and a real worker process every second while backups
 * succeed and fail (a database whose file is missing, a target that cannot be written), then
 * - `promtool check metrics` passes on both processes' /metrics;
 * - every PromQL expression of the Grafana dashboard (ops/grafana) returns data;
 * - every series selector of every alert rule (ops/prometheus/alerts.yml) returns data, and the
 *   failure alerts go firing (rules loaded with `for:` shortened to 1s).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { createRedis } from '@mfb/jobs';
import { freePort, testConfig, distNode } from '@mfb/testkit';
import { REDIS_URL, ROOT, spawnWorker, stopAll, tempDir, waitUntil, type WorkerProc } from './helpers.js';

const KEY = 'prometheus-test-key-0123456789';
const cleanups: Array<() => Promise<unknown>> = [];
let apiPort = 0;
let workerPort = 0;
let promUrl = '';
let apiProc: ChildProcess | undefined;
let apiOut = '';
let promOut = '';

function promtool(args: string[], stdin: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', args, (err, stdout, stderr) => resolve({ ok: !err, out: stdout + stderr }));
    child.stdin!.end(stdin);
  });
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/** Trigger a job through the API and wait until it has completed or failed. */
async function runJob(path: string, body: unknown = {}): Promise<string> {
  const accepted = await api('POST', path, body);
  expect(accepted.status, JSON.stringify(accepted.json)).toBe(202);
  const statusUrl = String(accepted.json.statusUrl);
  const done = await waitUntil(
    async () => {
      const s = await api('GET', statusUrl);
      return s.json.state === 'completed' || s.json.state === 'failed' ? String(s.json.state) : null;
    },
    30_000,
    `job ${path}`,
  );
  return done;
}

async function query(expr: string): Promise<Array<{ metric: Record<string, string> }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
  const r = body.data!.result;
  if (body.data!.resultType === 'scalar') return [{ metric: {} }];
  return r as Array<{ metric: Record<string, string> }>;
}

/** Grafana's variables in a dashboard expression, as the test runs it. */
function grafanaExpr(expr: string): string {
  return expr.replaceAll('$__rate_interval', '20s').replaceAll('$database', '.*');
}

/** Every PromQL expression of the dashboard: panel targets and the template variable's query. */
async function dashboardExprs(): Promise<string[]> {
  const dash = JSON.parse(await readFile(join(ROOT, 'ops/grafana/dashboards/myfinance-backup.json'), 'utf8')) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ query: { query: string } }> };
  };
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => grafanaExpr(t.expr)));
  for (const v of dash.templating.list) {
    // Grafana's label_values(metric, label) is not PromQL: the same question in PromQL.
    const m = /^label_values\((\w+), (\w+)\)$/.exec(v.query.query);
    expect(m, v.query.query).not.toBeNull();
    exprs.push(`group by (${m![2]}) (${m![1]})`);
  }
  return exprs;
}

/** The series selectors (`metric{matchers}`) inside a rule expression. */
function selectors(expr: string): string[] {
  return [...expr.matchAll(/(?<![\w.])(mfb_\w+|up)(\{[^}]*\})?(?!\w|\s*\()/g)].map((m) => m[0]);
}

beforeAll(async () => {
  const tmp = await tempDir('mfb-prom-');
  cleanups.push(() => tmp.dispose());
  const good = join(tmp.dir, 'good.sqlite');
  await generateFinanceDb(good, { sizeBytes: 256 * 1024 });
  [apiPort, workerPort] = [await freePort(), await freePort()];
  await mkdir(join(tmp.dir, 'targets', 'nas'), { recursive: true, mode: 0o700 });
  // A target whose path is a regular file: every upload to it fails.
  await writeFile(join(tmp.dir, 'targets', 'broken'), 'not a directory');
  const { config, file } = await testConfig({
    dir: tmp.dir,
    redisUrl: REDIS_URL,
    settings: {
      databases: [
        { id: 'good', path: good, compression: { algorithm: 'gzip', level: 1 }, targets: ['nas', 'broken'], schedules: [] },
        { id: 'missing', path: join(tmp.dir, 'does-not-exist.sqlite'), targets: [], schedules: [] },
        // On a host no worker serves: MfbHostWithoutWorker.
        { id: 'remote', path: join(tmp.dir, 'remote.sqlite'), host: 'elsewhere', targets: [], schedules: [] },
      ],
      targets: [
        { name: 'nas', url: './targets/nas', retention: { keepLast: 2 } },
        { name: 'broken', url: './targets/broken', retention: { keepLast: 2 } },
      ],
      worker: { metricsPort: workerPort, concurrency: 2, attempts: { backup: 1, upload: 3, verify: 1 }, backoffMs: 100 },
      api: { port: apiPort, metricsPublic: true, keys: [{ id: 'test', key: KEY, scopes: ['read', 'write', 'admin'] }] },
      log: { level: 'info' },
    },
  });

  const worker: WorkerProc = spawnWorker(file);
  cleanups.push(() => stopAll([worker]));
  const cmd = distNode(join(ROOT, 'apps/api/src/main.ts'), ['--config', file]);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'REDIS_URL' && !k.startsWith('MFB_')));
  apiProc = spawn(cmd.command, cmd.args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  apiProc.stdout!.on('data', (b: Buffer) => (apiOut += b.toString()));
  apiProc.stderr!.on('data', (b: Buffer) => (apiOut += b.toString()));
  cleanups.push(async () => {
    if (apiProc?.exitCode !== null) return;
    const exited = new Promise((r) => apiProc!.once('exit', r));
    apiProc.kill('SIGKILL');
    await exited;
  });

  // Prometheus: 1 s scrapes and rule evaluations, the project's rules with `for:` at 1s.
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const promDir = join(tmp.dir, 'prometheus');
  await mkdir(join(promDir, 'data'), { recursive: true });
  const rules = (await readFile(join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8')).replace(/^(\s+)for: \S+$/gm, '$1for: 1s');
  await writeFile(join(promDir, 'alerts.yml'), rules);
  await writeFile(
    join(promDir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      `  - { job_name: mfb-worker, static_configs: [{ targets: ["127.0.0.1:${workerPort}"] }] }`,
      `  - { job_name: mfb-api, static_configs: [{ targets: ["127.0.0.1:${apiPort}"] }] }`,
      '',
    ].join('\n'),
  );
  expect(existsSync('/usr/bin/prometheus'), 'Debian package prometheus (scripts/setup installs it)').toBe(true);
  const prom = spawn(
    'prometheus',
    [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prom.stdout.on('data', (b: Buffer) => (promOut += b.toString()));
  prom.stderr.on('data', (b: Buffer) => (promOut += b.toString()));
  cleanups.push(async () => {
    if (prom.exitCode !== null) return;
    const exited = new Promise((r) => prom.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  });

  await worker.waitForLog((l) => l.msg === 'worker ready', 30_000);
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${apiPort}/health/live`).catch(() => null))?.ok, 30_000, `API up: ${apiOut.slice(-500)}`);
  await waitUntil(async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok, 30_000, `Prometheus ready: ${promOut.slice(-500)}`);
  // Prometheus has scraped the worker once (its counters at 0), so the traffic below is an increase.
  await waitUntil(async () => (await query('mfb_restore_drills_total{database="good",target="broken"} == 0').catch(() => [])).length > 0, 30_000, 'a first scrape of the worker');

  // Traffic: a lock wait, backups that succeed (uploads to nas succeed, to broken fail), a
  // restore drill, a verify that succeeds and one that fails, backups of a database whose file
  // is missing.
  const redis = createRedis(config.redis, 'producer');
  cleanups.push(async () => redis.disconnect());
  await redis.set(`${config.redis.prefix}:mfb:lock:db:good`, 'someone-else', 'PX', 1500);
  for (let i = 0; i < 3; i++) expect(await runJob('/v1/databases/good/backups')).toBe('completed');
  // The uploads each backup chains run after it: wait until nas holds the newest backup (and
  // its prune kept 2), or the drill below could find nas still empty and fail there.
  await waitUntil(
    async () => {
      const onNas = await api('GET', '/v1/databases/good/backups?target=nas');
      const all = await api('GET', '/v1/databases/good/backups?limit=1');
      const newest = (all.json.items as Array<{ backupId: string }> | undefined)?.[0]?.backupId;
      const nas = (onNas.json.items as Array<{ backupId: string }> | undefined) ?? [];
      return newest !== undefined && nas.length === 2 && nas[0]!.backupId === newest;
    },
    30_000,
    'the uploads to nas',
  );
  // A restore drill of every copy: local and nas verify (mfb_last_verified_restore_timestamp_seconds),
  // broken has no copy, so the drill job fails (RESTORE_DRILL_FAILED).
  expect(await runJob('/v1/databases/good/verifies', { drill: true })).toBe('failed');
  expect(await runJob('/v1/databases/good/verifies')).toBe('completed');
  for (let i = 0; i < 3; i++) expect(await runJob('/v1/databases/missing/backups')).toBe('failed');
  expect(await runJob('/v1/databases/missing/verifies')).toBe('failed');
}, 120_000);

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('monitoring against a real Prometheus scraping a real API and worker', () => {
  it('promtool check metrics passes on the API and the worker /metrics; empty families are left out', async () => {
    for (const url of [`http://127.0.0.1:${apiPort}/metrics`, `http://127.0.0.1:${workerPort}/metrics`]) {
      const text = await (await fetch(url)).text();
      expect(text).toContain('mfb_process_cpu_seconds_total');
      const r = await promtool(['check', 'metrics'], text);
      expect(r.out, url).toBe('');
      expect(r.ok, url).toBe(true);
      // Every HELP line has samples after it.
      const families = [...text.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1]!);
      for (const f of families) expect(text, `${url}: ${f} has samples`).toMatch(new RegExp(`^${f}(_bucket|_sum|_count)?[{ ]`, 'm'));
    }
    const apiText = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    expect(apiText).toContain('mfb_http_request_duration_seconds_count');
    expect(apiText).not.toContain('mfb_jobs_total');
    expect(apiText).not.toContain('_active_handles_total');
  });

  it('every dashboard expression and every alert-rule selector returns data; the failure alerts fire', async () => {
    const dash = await dashboardExprs();
    expect(dash.length).toBeGreaterThan(25);
    const rulesBody = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; query: string; health: string }> }> };
    };
    const rules = rulesBody.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(
      ['MfbBackupRepeatedFailures', 'MfbBackupTooOld', 'MfbDiskLow', 'MfbHostWithoutWorker', 'MfbNoWorkerAlive', 'MfbQueueStuck', 'MfbRestoreDrillFailed', 'MfbUploadFailing', 'MfbVerifyFailing', 'MfbVerifyTooOld'].sort(),
    );
    const ruleSelectors = [...new Set(rules.flatMap((r) => selectors(r.query)))];
    expect(ruleSelectors.length).toBeGreaterThan(8);

    let empty: string[] = [];
    let firing: Array<{ labels: Record<string, string>; state: string }> = [];
    const wanted = (a: string, l: Record<string, string>): boolean =>
      firing.some((f) => f.state === 'firing' && f.labels.alertname === a && Object.entries(l).every(([k, v]) => f.labels[k] === v));
    try {
      await waitUntil(
        async () => {
          empty = [];
          for (const e of [...dash, ...ruleSelectors]) if ((await query(e)).length === 0) empty.push(e);
          firing = ((await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: typeof firing } }).data.alerts;
          return (
            empty.length === 0 &&
            wanted('MfbBackupRepeatedFailures', { database: 'missing' }) &&
            wanted('MfbUploadFailing', { database: 'good', target: 'broken' }) &&
            wanted('MfbRestoreDrillFailed', { database: 'good', target: 'broken' }) &&
            wanted('MfbHostWithoutWorker', { host: 'elsewhere' })
          );
        },
        45_000,
        'all expressions with data and the failure alerts firing',
      );
    } catch (err) {
      const failures = await query('mfb_consecutive_failures').catch(() => []);
      throw new Error(`${(err as Error).message}\nempty: ${JSON.stringify(empty, null, 1)}\nalerts: ${JSON.stringify(firing)}\nfailures: ${JSON.stringify(failures)}\nprometheus: ${promOut.slice(-1000)}`, { cause: err });
    }
    for (const r of rules) expect(r.health, r.name).toBe('ok');
    // The healthy parts stay quiet: the worker is up, "good" has a fresh backup on local and nas.
    const names = (l: Record<string, string>): string => `${l.alertname}/${l.database ?? ''}/${l.target ?? ''}`;
    const alerting = firing.map((f) => names(f.labels));
    expect(alerting).not.toContain('MfbNoWorkerAlive//');
    // The worker's own host is served.
    expect(firing.filter((f) => f.labels.alertname === 'MfbHostWithoutWorker').map((f) => f.labels.host)).toEqual(['elsewhere']);
    expect(alerting.filter((a) => a.startsWith('MfbBackupRepeatedFailures/good') || a.startsWith('MfbUploadFailing/good/nas') || a.startsWith('MfbRestoreDrillFailed/good/nas'))).toEqual([]);
    expect(await query('mfb_lock_waits_total{queue="backup"} > 0')).not.toHaveLength(0);
    expect(await query('mfb_job_failures_total{queue="backup",code="BACKUP_SOURCE_NOT_FOUND"} >= 3')).not.toHaveLength(0);
  }, 90_000);
});
