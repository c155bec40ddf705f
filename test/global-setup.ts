/**
 * Vitest global setup: make sure the suites have a Redis, and tell them where (REDIS_URL,
 * inherited by the test worker processes forked after this runs).
 *
 * 1. REDIS_URL given: use it (CI and `scripts/test` set it).
 * 2. Otherwise, with a Docker engine: start `redis:7-alpine` with testcontainers.
 * 3. Otherwise: the local default, redis://127.0.0.1:6379 (a clear message if it is down).
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';

const LOCAL = 'redis://127.0.0.1:6379';

async function answers(url: string): Promise<boolean> {
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

function dockerEngine(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

export default async function setup(): Promise<(() => Promise<void>) | void> {
  if (process.env.REDIS_URL) return;
  if (dockerEngine()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine')
      .withCommand(['redis-server', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .start();
    process.env.REDIS_URL = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    console.log(`global setup: Redis from testcontainers at ${process.env.REDIS_URL}`);
    return async () => {
      await container.stop();
    };
  }
  if (!(await answers(LOCAL))) {
    throw new Error(
      `No Redis for the tests: set REDIS_URL, start one (redis-server --port 6379), or run a Docker engine so testcontainers can start one.`,
    );
  }
  process.env.REDIS_URL = LOCAL;
}
