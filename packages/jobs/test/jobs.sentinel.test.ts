/**
 * The job suite (jobs.test.ts) through Redis Sentinel (a primary, a replica, three sentinels on
 * loopback), then a failover in the middle of a stream of jobs: the clients follow it at once,
 * no job enqueued before it or acknowledged by the new primary is lost, and the per-database
 * lock (acknowledged by the replica, WAIT) still serializes the jobs of each database.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { DatabaseLocks, closeQueues, createQueues, createRedis, enqueue, parseRedisUrl, type LockReplicationEvent } from '@mfb/jobs';
import { startRedisSentinel } from '@mfb/testkit';

const sentinel = await startRedisSentinel();
afterAll(() => sentinel.dispose());
process.env.MFB_TEST_REDIS_URL = sentinel.url;
await import('./jobs.test.js');

describe('Redis Sentinel', () => {
  it('reads sentinel and cluster URLs, with the secret kept out of errors', () => {
    expect(parseRedisUrl('redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2/mymaster/2')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
      ],
      name: 'mymaster',
      db: 2,
      password: 's3cret',
    });
    expect(parseRedisUrl('redis+cluster://a:7000,b:7001')).toEqual({ kind: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }] });
    expect(() => parseRedisUrl('redis+sentinel://:s3cret@10.0.0.1:26379')).toThrow(/name the primary/);
    expect(() => parseRedisUrl('redis+sentinel://:s3cret@10.0.0.1:26379')).not.toThrow(/s3cret/);
    expect(() => parseRedisUrl('redis+cluster://:s3cret@a:1/3')).toThrow(/no database number/);
  });

  it('a lock is acknowledged by the replica (WAIT) before it counts, on acquisition and renewal; too few replicas: a warning, or JOBS_LOCK_NOT_REPLICATED when required', { timeout: 30_000 }, async () => {
    const prefix = `t-${randomUUID()}`;
    const conn = createRedis({ url: sentinel.url, tls: false }, 'worker');
    conn.on('error', () => undefined);
    const seen: Array<{ level: 'warn' | 'debug'; event: LockReplicationEvent; msg: string }> = [];
    const log = {
      warn: (event: object, msg: string) => seen.push({ level: 'warn', event: event as LockReplicationEvent, msg }),
      debug: (event: object, msg: string) => seen.push({ level: 'debug', event: event as LockReplicationEvent, msg }),
    };
    try {
      // Sentinel mode: one replica by default.
      const locks = new DatabaseLocks(conn, prefix, 1500, { log });
      const held = await locks.tryAcquire('db1');
      expect(held).not.toBeNull();
      expect(held!.replicasAcknowledged).toBe(1);
      expect(seen).toEqual([{ level: 'debug', event: { databaseId: 'db1', phase: 'acquire', acknowledged: 1, wanted: 1, timeoutMs: 1000 }, msg: 'lock replicated' }]);
      // Acknowledged: the replica a failover would promote already holds the lock.
      const replicaPort = (await sentinel.primaryPort()) === sentinel.dataPorts[0] ? sentinel.dataPorts[1]! : sentinel.dataPorts[0]!;
      const onReplica = new Redis({ host: '127.0.0.1', port: replicaPort, maxRetriesPerRequest: 1 });
      try {
        expect(await onReplica.get(locks.keyOf('db1'))).toBe(held!.token);
      } finally {
        onReplica.disconnect();
      }
      // The lock still excludes a second owner, and its renewals are acknowledged too.
      expect(await new DatabaseLocks(conn, prefix, 1500).tryAcquire('db1')).toBeNull();
      const end = Date.now() + 10_000;
      while (!seen.some((e) => e.event.phase === 'renew')) {
        if (Date.now() > end) throw new Error('no renewal seen');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(seen.find((e) => e.event.phase === 'renew')).toMatchObject({ level: 'debug', event: { databaseId: 'db1', acknowledged: 1, wanted: 1 } });
      expect(held!.lost).toBe(false);
      await held!.release();

      // More replicas wanted than exist: WAIT runs out; a warning, the lock is kept.
      seen.length = 0;
      const greedy = new DatabaseLocks(conn, prefix, 5000, { replicas: 2, replicaTimeoutMs: 200, log });
      const kept = await greedy.tryAcquire('db2');
      expect(kept?.replicasAcknowledged).toBe(1);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ level: 'warn', event: { databaseId: 'db2', phase: 'acquire', acknowledged: 1, wanted: 2, timeoutMs: 200 } });
      expect(seen[0]!.msg).toMatch(/1 of 2 replica\(s\) acknowledged it within 200 ms; a Redis failover now could lose it/);
      await kept!.release();
      // One warning per outage: the next lock writes only probe for a replica (20 ms), so a
      // missing replica does not hold the connection for the full timeout each time.
      const next = await greedy.tryAcquire('db4');
      expect(seen.map((e) => e.level)).toEqual(['warn', 'debug']);
      expect(seen[1]!.event).toMatchObject({ databaseId: 'db4', acknowledged: 1, wanted: 2, timeoutMs: 20 });
      await next!.release();
      // ... and when required: refused with a clear code, the key given back.
      const strict = new DatabaseLocks(conn, prefix, 5000, { replicas: 2, replicaTimeoutMs: 200, requireReplica: true });
      await expect(strict.tryAcquire('db3')).rejects.toMatchObject({ code: 'JOBS_LOCK_NOT_REPLICATED' });
      expect(await strict.owner('db3')).toBeNull();
    } finally {
      conn.disconnect();
    }
  });

  it('a failover in the middle of a stream of jobs: clients follow it at once, every job enqueued before it or taken by the new primary completes, one job per database at a time', { timeout: 90_000 }, async () => {
    const url = sentinel.url;
    const prefix = `t-${randomUUID()}`;
    const producerConn = createRedis({ url, tls: false }, 'worker');
    const workerConn = createRedis({ url, tls: false }, 'worker');
    const lockConn = createRedis({ url, tls: false }, 'worker');
    for (const c of [producerConn, workerConn, lockConn]) c.on('error', () => undefined);
    const queues = createQueues(producerConn, prefix, { attempts: { verify: 10 }, backoffMs: 100 });
    // Required: a lock the old primary grants after it promoted the replica (none acknowledges
    // it) is refused, the job retried; with the default (a warning) two jobs of one database can
    // overlap in that moment (docs/scaling.md, failure modes).
    const locks = new DatabaseLocks(lockConn, prefix, 5_000, { requireReplica: true });
    const runs: Array<{ db: string; start: number; end: number; id: string }> = [];
    const worker = new Worker(
      'verify',
      async (job) => {
        const db = String((job.data as { databaseId: string }).databaseId);
        const lock = await locks.tryAcquire(db);
        // Busy database: try again later (as the worker's runner does with a delay).
        if (!lock) throw new Error(`database ${db} busy`);
        const start = Date.now();
        await new Promise((r) => setTimeout(r, 30));
        runs.push({ db, start, end: Date.now(), id: String(job.id) });
        await lock.release();
      },
      // Jobs active on the old primary when the clients switch are found stalled on the new one
      // and run again: after the stall interval (the worker derives it from lockTtlMs; short here).
      { connection: workerConn, prefix, concurrency: 4, lockDuration: 4000, stalledInterval: 2000 },
    );
    worker.on('error', () => undefined);
    const before = await sentinel.primaryPort();
    const ids: string[] = [];
    // Which server acknowledged each enqueue (the producer's socket right after the answer), and when.
    const acked = new Map<string, { port: number | undefined; phase: 'before' | 'switch' | 'after' }>();
    let phase: 'before' | 'switch' | 'after' = 'before';
    const enqueueSome = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        // An enqueue that fails during the switch is retried by the caller, as the API's client would.
        for (let attempt = 0; ; attempt++) {
          try {
            const id = String((await enqueue(queues, 'verify', { databaseId: `db${i % 3}` })).id);
            ids.push(id);
            acked.set(id, { port: (producerConn as Redis).stream?.remotePort, phase });
            break;
          } catch (err) {
            if (attempt > 50) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    };
    try {
      await enqueueSome(30);
      phase = 'switch';
      const [after] = await Promise.all([sentinel.failover(), enqueueSome(30)]);
      expect(after).not.toBe(before);
      // The clients follow the sentinels' +switch-master to the new primary (not seconds later,
      // when Sentinel demotes the old one).
      for (const end = Date.now() + 8000; (producerConn as Redis).stream?.remotePort !== after; ) {
        if (Date.now() > end) throw new Error('the producer did not move to the new primary');
        await new Promise((r) => setTimeout(r, 20));
      }
      phase = 'after';
      await enqueueSome(15);
      // Every job enqueued before the failover, and every job the new primary acknowledged,
      // completes there. The old primary keeps answering until the clients hear of the switch
      // (+switch-master): what it acknowledged after promoting the replica is lost when it
      // becomes a replica (asynchronous replication, docs/scaling.md failure modes).
      const mayBeLost = (id: string): boolean => acked.get(id)!.phase !== 'before' && acked.get(id)!.port === before;
      const required = ids.filter((id) => !mayBeLost(id));
      expect(ids.filter((id) => acked.get(id)!.phase === 'after' && acked.get(id)!.port !== after), 'enqueues after the switch reach the new primary').toEqual([]);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const states = await Promise.all(ids.map((id) => queues.verify.getJobState(id)));
        const open = ids.filter((id, i) => (mayBeLost(id) ? states[i] !== 'completed' && states[i] !== 'unknown' : states[i] !== 'completed'));
        if (open.length === 0) break;
        if (Date.now() > deadline) throw new Error(`not completed: ${open.map((id) => `${id} ${JSON.stringify(acked.get(id))} ${states[ids.indexOf(id)]}`).join(', ')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const ran = new Set(runs.map((r) => r.id));
      expect(required.filter((id) => !ran.has(id))).toEqual([]);
      // No two runs of one database overlapped.
      for (const db of ['db0', 'db1', 'db2']) {
        const mine = runs.filter((r) => r.db === db).sort((a, b) => a.start - b.start);
        for (let i = 1; i < mine.length; i++) expect(mine[i]!.start).toBeGreaterThanOrEqual(mine[i - 1]!.end);
      }
    } finally {
      await worker.close();
      await queues.verify.obliterate({ force: true }).catch(() => undefined);
      await closeQueues(queues);
      for (const c of [producerConn, workerConn, lockConn]) c.disconnect();
    }
  });
});
