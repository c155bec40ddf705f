import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from '@mfb/client';
import { REDIS_URL } from './helpers.js';
import { freePort, distNode } from '@mfb/testkit';
import { ContractChecker, contractFetch } from './contract.js';

/**
 * End to end: the API and a worker as processes (from source, a temp config file), a backup triggered
 * over HTTP with the typed client, polled until done, the artifact downloaded, restored with
 * the CLI (`backupctl restore <artifact file> --to ...`), rows compared with the source.
 */
const ROOT = resolve(import.meta.dirname, '../../..');
const KEY = `e2e-${randomUUID()}`;

interface Proc {
  child: ChildProcess;
  output: () => string;
}

function start(name: string, [script, ...args]: [string, ...string[]]): Proc {
  const cmd = distNode(script, args);
  const child = spawn(cmd.command, cmd.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  child.once('exit', (code, signal) => (out += `\n[${name} exited code=${code} signal=${signal}]\n`));
  return { child, output: () => out };
}

async function stop(p: Proc | undefined): Promise<number | null> {
  if (!p || p.child.exitCode !== null) return p?.child.exitCode ?? null;
  const exited = new Promise<number | null>((ok) => p.child.once('exit', (code) => ok(code)));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(t);
  return code;
}

function run([script, ...args]: [string, ...string[]]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const cmd = distNode(script, args);
    const child = spawn(cmd.command, cmd.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('exit', (code) => ok({ code, stdout, stderr }));
  });
}

const ready = existsSync(join(ROOT, 'apps/worker/src/main.ts')) && existsSync(join(ROOT, 'apps/cli/src/main.ts'));
if (!ready) console.warn('e2e skipped: apps/worker/src/main.ts or apps/cli/src/main.ts is missing');

describe.skipIf(!ready)('end to end: API + worker processes, client, CLI restore', () => {
  let dir: string;
  let prefix: string;
  let api: Proc | undefined;
  let worker: Proc | undefined;
  let client: Client;
  let configFile: string;
  let sourcePath: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfb-e2e-'));
    prefix = `mfb-e2e-${randomUUID()}`;
    sourcePath = join(dir, 'finance.db');
    const db = new Database(sourcePath);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE tx (id INTEGER PRIMARY KEY, booked TEXT NOT NULL, amount_cents INTEGER NOT NULL, memo TEXT)');
    const ins = db.prepare('INSERT INTO tx (booked, amount_cents, memo) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 5000; i++) ins.run(`2026-01-${String((i % 28) + 1).padStart(2, '0')}`, (i * 7919) % 100_000 - 50_000, `memo ${i}`);
    })();
    db.close();

    const port = await freePort();
    configFile = join(dir, 'mfb.config.yaml');
    await writeFile(
      configFile,
      [
        `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
        'databases:',
        '  - id: finance',
        `    path: ${JSON.stringify(sourcePath)}`,
        '    compression: { algorithm: gzip, level: 6 }',
        'redis:',
        `  url: ${JSON.stringify(REDIS_URL)}`,
        `  prefix: ${prefix}`,
        'worker:',
        '  concurrency: 1',
        '  metricsPort: 0',
        '  shutdownGraceMs: 5000',
        '  attempts: { backup: 1, upload: 1, prune: 1, restore: 1, verify: 1 }',
        'api:',
        '  host: "127.0.0.1"',
        `  port: ${port}`,
        '  keys:',
        `    - { id: e2e, key: ${JSON.stringify(KEY)}, scopes: [admin] }`,
        'log:',
        '  level: info',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );

    api = start('api', ['apps/api/src/main.ts', '--config', configFile]);
    worker = start('worker', ['apps/worker/src/main.ts', '--config', configFile]);
    const baseUrl = `http://127.0.0.1:${port}`;
    client = createClient({ baseUrl, apiKey: KEY });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await client.live();
        break;
      } catch (err) {
        if (Date.now() > deadline || api.child.exitCode !== null) throw new Error(`API did not start: ${api.output()}`, { cause: err });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // From here on every answer is checked against the document the API publishes.
    const doc = (await (await client.request('GET', '/docs/json')).json()) as Record<string, unknown>;
    client = createClient({ baseUrl, apiKey: KEY, fetch: contractFetch(new ContractChecker(doc)) });
  }, 120_000);

  afterAll(async () => {
    const codes = { api: await stop(api), worker: await stop(worker) };
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
    expect(codes).toEqual({ api: 0, worker: 0 });
  }, 60_000);

  it('backs up over HTTP, downloads the artifact and restores it with the CLI', async () => {
    const acc = await client.triggerBackup('finance');
    expect(acc.queue).toBe('backup');
    const job = await client.waitForJob(acc.jobId, { timeoutMs: 120_000, intervalMs: 200 }).catch((err: unknown) => {
      throw new Error(`backup job did not complete: ${String(err)}\n--- worker ---\n${worker?.output()}`);
    });
    expect(job.state).toBe('completed');

    // BullMQ forgets finished jobs (removeOnComplete); the status URL keeps answering from the
    // catalog's job history that the worker wrote.
    const queue = new Queue('backup', { connection: { url: REDIS_URL }, prefix });
    await queue.remove(acc.jobId);
    expect(await queue.getJob(acc.jobId)).toBeUndefined();
    await queue.close();
    const remembered = await client.getJob(acc.jobId);
    expect(remembered).toMatchObject({ id: acc.jobId, queue: 'backup', state: 'completed', result: job.result });

    const page = await client.listBackups('finance');
    expect(page.items).toHaveLength(1);
    const summary = page.items[0]!;
    const detail = await client.getBackup('finance', summary.backupId);
    expect(detail.manifest.databaseId).toBe('finance');
    expect((await client.getDatabase('finance')).lastBackup?.backupId).toBe(summary.backupId);

    // Download into a storage-shaped tree (<root>/<databaseId>/<file>) with the manifest beside it.
    const dl = await client.downloadBackup('finance', summary.backupId);
    const file = join(dir, 'download', detail.manifest.artifactKey);
    await mkdir(join(file, '..'), { recursive: true });
    await pipeline(Readable.fromWeb(dl.body as WebReadableStream<Uint8Array>), createWriteStream(file, { mode: 0o600 }));
    const bytes = await readFile(file);
    expect(bytes.length).toBe(dl.sizeBytes);
    expect(bytes.length).toBe(detail.manifest.artifact.sizeBytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(detail.manifest.artifact.sha256);
    await writeFile(`${file}.manifest.json`, JSON.stringify(detail.manifest, null, 2), { mode: 0o600 });

    const target = join(dir, 'restored', 'finance.db');
    const res = await run(['apps/cli/src/main.ts', 'restore', file, '--to', target, '--json']);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);

    const src = new Database(sourcePath, { readonly: true });
    const dst = new Database(target, { readonly: true });
    const q = 'SELECT id, booked, amount_cents, memo FROM tx ORDER BY id';
    expect(dst.prepare(q).all()).toEqual(src.prepare(q).all());
    expect((dst.prepare('SELECT count(*) AS n FROM tx').get() as { n: number }).n).toBe(5000);
    src.close();
    dst.close();
  }, 180_000);

  it('verifies and restores through the API (worker jobs), rows equal', async () => {
    const { items } = await client.listBackups('finance');
    const backupId = items[0]!.backupId;
    const v = await client.verify('finance', { backupId });
    const verified = await client.waitForJob(v.jobId, { timeoutMs: 120_000, intervalMs: 200 });
    expect(verified.state).toBe('completed');

    const target = join(dir, 'api-restored', 'finance.db');
    await mkdir(join(dir, 'api-restored'), { recursive: true });
    const r = await client.restore('finance', { backupId, mode: 'new', targetPath: target });
    const restored = await client.waitForJob(r.jobId, { timeoutMs: 120_000, intervalMs: 200 }).catch((err: unknown) => {
      throw new Error(`restore job failed: ${String(err)}\n--- worker ---\n${worker?.output().slice(-3000)}`);
    });
    expect(restored.state).toBe('completed');
    const src = new Database(sourcePath, { readonly: true });
    const dst = new Database(target, { readonly: true });
    const q = 'SELECT id, booked, amount_cents, memo FROM tx ORDER BY id';
    expect(dst.prepare(q).all()).toEqual(src.prepare(q).all());
    src.close();
    dst.close();
  }, 240_000);

  it('logs carry request ids and never the API key', async () => {
    await client.listDatabases();
    const lines = api!.output().split('\n').filter((l) => l.startsWith('{'));
    expect(lines.some((l) => /"reqId":"[^"]+"/.test(l))).toBe(true);
    expect(api!.output()).not.toContain(KEY);
  });
});
