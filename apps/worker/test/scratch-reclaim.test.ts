/**
 * A worker killed with SIGKILL mid-backup leaves its scratch snapshot; the next worker to
 * start reclaims it before any job runs (the killed job is gone from the queue here, so no
 * re-run sweeps it), while the scratch of a live backup in another process is kept.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFinanceDb } from '@mfb/demo-data';
import { enqueueBackupNow } from '@mfb/jobs';
import { producerQueues, spawnReadyWorkers, spawnWorker, tempDir, testConfig, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const scratch = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.mfb-tmp-')) : []);

describe('scratch of killed workers', () => {
  it.skipIf(!existsSync('/proc/self/stat'))('is reclaimed by the next worker at start; a live owner keeps its file', async () => {
    const tmp = await tempDir('mfb-reclaim-');
    cleanups.push(() => tmp.dispose());
    const dbPath = join(tmp.dir, 'big.sqlite');
    await generateFinanceDb(dbPath, { sizeBytes: 6 * 1024 * 1024 });
    const { config, file } = await testConfig({ dir: tmp.dir, databases: [{ id: 'big', path: dbPath, snapshotMethod: 'backup-api' }], concurrency: 1 });
    const [first] = await spawnReadyWorkers(1, file, cleanups, ['--test-only-throttle-bps=1048576']);
    const producer = producerQueues(config);
    cleanups.push(() => producer.dispose());
    await enqueueBackupNow(producer.queues, { databaseId: 'big' });

    await waitUntil(async () => scratch(config.tmpDir).length > 0, 60_000, 'the backup has its scratch snapshot');
    first!.kill('SIGKILL');
    await first!.exited;
    const leaked = scratch(config.tmpDir);
    expect(leaked.length).toBeGreaterThan(0);
    await producer.queues.backup.obliterate({ force: true });

    // A live process's scratch file (owner: a running `sleep`, same host and boot as the
    // killed worker's name says; only its pid and start time differ).
    const sleeper = spawn('sleep', ['120']);
    cleanups.push(async () => sleeper.kill('SIGKILL'));
    const [, host, boot] = /\.o([0-9a-f]{8})-([0-9a-f]{8}|0)-\d+-\d+\./.exec(leaked[0]!)!;
    const stat = readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const live = `.mfb-tmp-big.20261201T000000000Z-00000001.o${host}-${boot}-${sleeper.pid}-${start}.snapshot.sqlite`;
    mkdirSync(config.tmpDir, { recursive: true });
    writeFileSync(join(config.tmpDir, live), 'live');

    const second = spawnWorker(file);
    cleanups.push(async () => second.kill('SIGKILL'));
    const line = await second.waitForLog((l) => l.msg === 'removed scratch files left by killed runs', 60_000);
    expect(line).toMatchObject({ files: leaked.length });
    expect(scratch(config.tmpDir)).toEqual([live]);
  });
});
