/** Raw BullMQ no-op worker (reference for the queue-overhead benchmark). Args: prefix concurrency. */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [prefix, concurrency] = process.argv.slice(2);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const worker = new Worker('noop', async () => ({}), { connection: redis, prefix: prefix!, concurrency: Number(concurrency) });
await worker.waitUntilReady();
process.stdout.write('READY\n');
process.on('SIGTERM', () => {
  void worker.close().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
