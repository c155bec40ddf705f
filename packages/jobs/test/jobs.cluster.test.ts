/**
 * The job suite (jobs.test.ts) on a Redis Cluster of three masters, created by
 * `redis-cli --cluster create` on loopback ports: BullMQ needs a hash-tagged prefix there,
 * which `effectivePrefix` makes of the configured one. Plus what only a cluster has: locks and
 * the start-up check across its masters.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis, type Cluster } from 'ioredis';
import { DatabaseLocks, checkRedis, closeQueues, createQueues, createRedis, effectivePrefix, enqueue, getJobStatus } from '@mfb/jobs';
import { startRedisCluster } from '@mfb/testkit';

const cluster = await startRedisCluster(3);
afterAll(() => cluster.dispose());
process.env.MFB_TEST_REDIS_URL = cluster.url;
await import('./jobs.test.js');

describe('Redis Cluster', () => {
  it('wraps the prefix in a hash tag, keeps one that has one, leaves single servers alone', () => {
    expect(effectivePrefix({ url: cluster.url, prefix: 'mfb' })).toBe('{mfb}');
    expect(effectivePrefix({ url: cluster.url, prefix: 'x{tenant1}' })).toBe('x{tenant1}');
    expect(effectivePrefix({ url: 'redis://127.0.0.1:6379', prefix: 'mfb' })).toBe('mfb');
  });

  it('checks every master at start-up, and names the one that may evict', async () => {
    expect(await checkRedis({ url: cluster.url, tls: false })).toMatchObject({ evictionSafe: true, maxmemoryPolicy: 'noeviction' });
    // One master (not the first the client would ask) allows eviction: the check must find it.
    const node = new Redis({ host: '127.0.0.1', port: cluster.dataPorts[2]!, maxRetriesPerRequest: 1 });
    try {
      await node.config('SET', 'maxmemory-policy', 'allkeys-lru');
      expect(await checkRedis({ url: cluster.url, tls: false })).toMatchObject({ evictionSafe: false, maxmemoryPolicy: 'allkeys-lru' });
    } finally {
      await node.config('SET', 'maxmemory-policy', 'noeviction');
      node.disconnect();
    }
  });

  it('per-database locks and queues share the hash-tag slot: lock, enqueue, release, relock', async () => {
    const url = cluster.url;
    const prefix = effectivePrefix({ url, prefix: `t-${randomUUID()}` });
    const redis = createRedis({ url, tls: false }, 'worker') as Cluster;
    const queues = createQueues(redis, prefix);
    try {
      const locks = new DatabaseLocks(redis, prefix, 10_000);
      const a = await locks.tryAcquire('db1');
      expect(a).not.toBeNull();
      expect(await locks.tryAcquire('db1')).toBeNull();
      // Different databases, different keys, possibly other slots without the tag: all in ours.
      const b = await locks.tryAcquire('db2');
      expect(b).not.toBeNull();
      // Every key of a database's work (lock, queue) hashes to the one slot of the tag.
      const slot = async (key: string): Promise<number> => Number(await redis.nodes('master')[0]!.call('CLUSTER', 'KEYSLOT', key));
      const tagSlot = await slot(prefix);
      expect(await slot(locks.keyOf('db1'))).toBe(tagSlot);
      expect(await slot(locks.keyOf('db2'))).toBe(tagSlot);
      expect(await slot(`${prefix}:backup:wait`)).toBe(tagSlot);
      const job = await enqueue(queues, 'backup', { databaseId: 'db1', trigger: 'manual' });
      expect((await getJobStatus(queues, String(job.id)))?.state).toBe('waiting');
      await a!.release();
      await b!.release();
      expect(await locks.tryAcquire('db1')).not.toBeNull();
    } finally {
      for (const name of ['backup', 'upload', 'prune', 'restore', 'verify'] as const) await queues[name].obliterate({ force: true }).catch(() => undefined);
      await closeQueues(queues);
      redis.disconnect();
    }
  });
});
