import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, testConfig } from '@mfb/testkit';
import { StartupError, createStorages, databaseFor, startService } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfb-runtime-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const settings = { databases: [{ id: 'fin', path: 'fin.db' }], targets: [{ name: 'nas', url: './nas' }] };

describe('startService', () => {
  it('loads the config, checks Redis, opens and migrates the catalog', async () => {
    const { file } = await testConfig({ dir, redisUrl: REDIS_URL, settings });
    const s = await startService('test', { configFile: file, env: {} });
    try {
      expect(s.config.databases.map((d) => d.id)).toEqual(['fin']);
      expect((await stat(s.config.catalogPath)).isFile()).toBe(true);
      expect(await s.catalog.listSchedules()).toEqual([]);
    } finally {
      await s.catalog.close();
    }
  });

  it('an invalid config is a StartupError with exit code 2 naming the field; nothing is opened', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'worker:\n  concurrency: 0\n');
    const err = await startService('test', { configFile: bad, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect(err).toMatchObject({ exitCode: 2, message: expect.stringContaining('worker.concurrency') });
  });

  it('an unreachable Redis is a StartupError with exit code 1, before the catalog is created', async () => {
    const { file, config } = await testConfig({ dir, redisUrl: `redis://127.0.0.1:${await freePort()}`, settings });
    const err = await startService('test', { configFile: file, env: {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 1, message: expect.stringContaining('cannot reach Redis') });
    await expect(stat(config.catalogPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('createStorages and databaseFor', () => {
  it('one driver per target, kept; unknown targets are TARGET_NOT_FOUND', async () => {
    const { config } = await testConfig({ dir, redisUrl: REDIS_URL, settings });
    const s = createStorages(config);
    expect(s.storageFor('local')).toBe(s.primary);
    expect(s.storageFor('nas')).toBe(s.storageFor('nas'));
    expect(s.storageFor('nas').url).toBe(config.targets[0]!.url);
    expect(() => s.storageFor('mars')).toThrow(expect.objectContaining({ code: 'TARGET_NOT_FOUND', status: 404, permanent: true }));
  });

  it('a malformed database id is INVALID_ID, a well-formed unknown one DATABASE_NOT_FOUND', async () => {
    const { config } = await testConfig({ dir, redisUrl: REDIS_URL, settings });
    expect(databaseFor(config, 'fin').id).toBe('fin');
    expect(() => databaseFor(config, 'Fin DB!')).toThrow(expect.objectContaining({ code: 'INVALID_ID', status: 400 }));
    expect(() => databaseFor(config, 'payroll', { listKnown: true })).toThrow(expect.objectContaining({ code: 'DATABASE_NOT_FOUND', message: expect.stringContaining('(configured: fin)') }));
  });
});
