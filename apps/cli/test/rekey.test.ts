/**
 * Key rotation: a new key for new backups while old ones still restore, `backupctl rekey`
 * (streamed re-encryption, old copies deleted only after the new one is proven, on every
 * storage), a kill in the middle that leaves the old backup intact, and the refusal to start
 * with a key removed that live backups still need. Real CLI processes, catalog, storages, Redis.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyBackup, readManifest } from '@mfb/backup';
import { openCatalog } from '@mfb/catalog';
import { generateFinanceDb, summarizeFinanceDb } from '@mfb/demo-data';
import { StartupError, startService } from '@mfb/runtime';
import { LocalStorageDriver } from '@mfb/storage';
import { runProcess, testConfig, distNode, type ProcessRun } from '@mfb/testkit';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const OLD = randomBytes(32).toString('base64');
const NEW = randomBytes(32).toString('base64');

let dir: string;
let src: string;
const prefix = `t-rekey-${randomBytes(4).toString('hex')}`;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-rekey-'));
  src = join(dir, 'finance.db');
  await generateFinanceDb(src, { sizeBytes: 192 * 1024, seed: 3 });
  await mkdir(join(dir, 'nas'), { recursive: true, mode: 0o700 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Write the config with these keys (ids), the database encrypted with `use`. */
async function writeConfig(keys: Array<'old' | 'new'>, use: 'old' | 'new'): Promise<string> {
  const { file } = await testConfig({
    dir,
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
    settings: {
      keys: keys.map((id) => ({ id, base64: id === 'old' ? OLD : NEW })),
      targets: [{ name: 'nas', url: './nas' }],
      // A killed rekey's lock expires quickly.
      worker: { lockTtlMs: 1500 },
      databases: [{ id: 'fin', path: src, encryptionKeyId: use, targets: ['nas'], compression: { algorithm: 'gzip', level: 1 } }],
    },
  });
  return file;
}

function cli(config: string, args: string[]): Promise<ProcessRun> {
  const c = distNode(MAIN, ['--config', config, '--json', ...args]);
  return runProcess(c.command, c.args, { cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
}

function ok(r: ProcessRun): Record<string, unknown> {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** A CLI backup, then its copy on `nas` (as the worker's upload would make it). */
async function backupWithCopy(config: string): Promise<string> {
  const id = ok(await cli(config, ['backup', 'fin'])).backupId as string;
  const catalog = await openCatalog(join(dir, 'data', 'catalog.db'));
  try {
    const rec = (await catalog.getBackup(id))!;
    const primary = new LocalStorageDriver(join(dir, 'data', 'backups'));
    const copy = await copyBackup(primary, new LocalStorageDriver(join(dir, 'nas')), rec.manifest);
    await catalog.addLocation(id, { target: 'nas', artifactKey: copy.artifactKey });
  } finally {
    await catalog.close();
  }
  return id;
}

async function catalogView() {
  const catalog = await openCatalog(join(dir, 'data', 'catalog.db'));
  try {
    return (await catalog.listBackups({ databaseId: 'fin' })).items.map((b) => ({
      backupId: b.backupId,
      createdAt: b.createdAt,
      keyId: b.manifest.encryption?.keyId,
      rekeyedFrom: b.manifest.rekeyedFrom,
      live: b.locations.filter((l) => l.deletedAt === null).map((l) => l.target).sort(),
      keys: Object.fromEntries(b.locations.map((l) => [l.target, l.artifactKey])),
    }));
  } finally {
    await catalog.close();
  }
}

describe('key rotation', () => {
  it('a new key for new backups; old ones still restore; rekey re-encrypts them on every storage; then the old key can go', async () => {
    const v1 = await writeConfig(['old'], 'old');
    const b1 = await backupWithCopy(v1);
    const v2 = await writeConfig(['old', 'new'], 'new');
    const b2 = ok(await cli(v2, ['backup', 'fin'])).backupId as string;
    const before = await catalogView();
    expect(before.map((b) => [b.backupId, b.keyId])).toEqual([
      [b2, 'new'],
      [b1, 'old'],
    ]);
    // The old backup still restores with both keys configured.
    const restored = join(dir, 'restored-old.db');
    ok(await cli(v2, ['restore', b1, '--to', restored]));
    expect(summarizeFinanceDb(restored)).toEqual(summarizeFinanceDb(src));

    // Removing the old key now is refused: b1 needs it (CLI, and worker/API start-up).
    const v3 = await writeConfig(['new'], 'new');
    const refused = await cli(v3, ['list', 'fin']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('KEY_STILL_IN_USE');
    expect(refused.stderr).toContain(`fin/${b1} (key old)`);
    const boot = await startService('worker', { configFile: v3, env: {} }).catch((e: unknown) => e);
    expect(boot).toBeInstanceOf(StartupError);
    expect((boot as StartupError).exitCode).toBe(2);
    expect((boot as StartupError).message).toContain('KEY_STILL_IN_USE');
    expect((boot as StartupError).message).not.toContain(OLD);

    const v2again = await writeConfig(['old', 'new'], 'new');
    const report = ok(await cli(v2again, ['rekey', 'fin', '--all', '--to-key', 'new'])) as { items: Array<{ from: string; backupId: string; outcome: string; targets: string[] }>; locked: boolean };
    expect(report.locked).toBe(true);
    const item = report.items.find((i) => i.from === b1)!;
    expect(item).toMatchObject({ outcome: 'rekeyed', targets: ['local', 'nas'] });
    expect(report.items.find((i) => i.from === b2)).toMatchObject({ outcome: 'unchanged' });

    const after = await catalogView();
    const old = after.find((b) => b.backupId === b1)!;
    const fresh = after.find((b) => b.backupId === item.backupId)!;
    expect(old.live).toEqual([]);
    expect(fresh).toMatchObject({ keyId: 'new', rekeyedFrom: b1, createdAt: old.createdAt, live: ['local', 'nas'] });
    // The old copies are gone from both storages; the new ones are whole and name their key.
    for (const root of [join(dir, 'data', 'backups'), join(dir, 'nas')]) {
      expect(existsSync(join(root, old.keys['local']!))).toBe(false);
      expect(existsSync(join(root, `${old.keys['local']!}.manifest.json`))).toBe(false);
      expect((await readManifest(new LocalStorageDriver(root), fresh.keys['local']!)).encryption?.keyId).toBe('new');
    }
    ok(await cli(v3, ['verify', item.backupId, '--from', 'nas']));
    const again = join(dir, 'restored-new.db');
    ok(await cli(v3, ['restore', item.backupId, '--to', again]));
    expect(summarizeFinanceDb(again)).toEqual(summarizeFinanceDb(src));
  });

  it('a rekey killed mid-way leaves the old backup intact; the next run cleans up or finishes', async () => {
    await writeConfig(['old'], 'old');
    const b1 = await backupWithCopy(join(dir, 'mfb.config.yaml'));
    const v2 = await writeConfig(['old', 'new'], 'new');

    /** Run rekey until it pauses after `step` (a killed run's lock expires after its TTL), then SIGKILL it. */
    const killAfter = async (step: string): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        const c = distNode(MAIN, ['--config', v2, 'rekey', 'fin', '--backup', b1, '--to-key', 'new', '--test-only-pause-at', step]);
        const child = spawn(c.command, c.args, { cwd: dir, env: { PATH: process.env.PATH, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const paused = await new Promise<boolean>((res) => {
          child.stderr.on('data', () => stderr.includes(`paused after ${step}`) && res(true));
          void exited.then(() => res(false));
        });
        if (paused) {
          child.kill('SIGKILL');
          await exited;
          return;
        }
        expect(stderr, 'only a held lock may stop it').toContain('CLI_DATABASE_LOCKED');
        expect(attempt).toBeLessThan(20);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const manifests = async (root: string) => (await new LocalStorageDriver(root).list('fin/')).items.map((o) => o.key).filter((k) => k.endsWith('.manifest.json'));

    // 1. killed after the new backup was written and verified, before it was recorded
    await killAfter('verified');
    expect((await catalogView()).map((b) => [b.backupId, b.live])).toEqual([[b1, ['local', 'nas']]]);
    ok(await cli(v2, ['verify', b1, '--from', 'nas']));

    // 2. killed after the new backup was recorded, before any old copy was deleted: what run 1
    //    left was removed (one successor), the old backup is still whole
    await killAfter('recorded');
    let view = await catalogView();
    const successor = view.find((b) => b.rekeyedFrom === b1)!;
    expect(view.map((b) => [b.backupId, b.live])).toEqual([
      [successor.backupId, ['local', 'nas']],
      [b1, ['local', 'nas']],
    ].sort((x, y) => String(y[0]).localeCompare(String(x[0]))));
    expect((await manifests(join(dir, 'data', 'backups'))).length).toBe(2);
    ok(await cli(v2, ['verify', b1]));

    // 3. the next run finishes: the old copies go, the recorded successor stays
    let report: { items: Array<{ from: string; outcome: string; backupId: string }> } | undefined;
    for (let i = 0; i < 20 && !report; i++) {
      const r = await cli(v2, ['rekey', 'fin', '--all', '--to-key', 'new']);
      if (r.code === 0) report = JSON.parse(r.stdout) as typeof report;
      else {
        expect(r.stderr).toContain('CLI_DATABASE_LOCKED');
        await new Promise((s) => setTimeout(s, 500));
      }
    }
    expect(report!.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ from: b1, outcome: 'completed', backupId: successor.backupId }), expect.objectContaining({ from: successor.backupId, outcome: 'unchanged' })]),
    );
    view = await catalogView();
    expect(view.map((b) => [b.backupId, b.live])).toEqual(
      [
        [successor.backupId, ['local', 'nas']],
        [b1, []],
      ].sort((x, y) => String(y[0]).localeCompare(String(x[0]))),
    );
    for (const root of [join(dir, 'data', 'backups'), join(dir, 'nas')]) expect(await manifests(root)).toEqual([`${successor.keys['local']}.manifest.json`]);
  });
});
