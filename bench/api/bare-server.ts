/**
 * Reference for the enqueue benchmark: the same trigger (`enqueueBackupNow`) behind a bare
 * Fastify route (no auth, validation, rate limit, security headers, logging). Shows what the
 * HTTP layer alone costs on this machine. Prints `{"url": ...}` when listening.
 *
 *   tsx bench/api/bare-server.ts --prefix P
 */
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { closeQueues, createQueues, enqueueBackupNow } from '@mfb/jobs';

const { values } = parseArgs({ options: { prefix: { type: 'string' } }, strict: true });
if (!values.prefix) throw new Error('--prefix is required');
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
const queues = createQueues(redis, values.prefix);
const app = Fastify({ logger: false });
app.post('/v1/databases/:databaseId/backups', async (req, reply) => {
  const { databaseId } = req.params as { databaseId: string };
  const { job, deduplicated } = await enqueueBackupNow(queues, { databaseId, trigger: 'api' }, { fetchExisting: false });
  return reply.code(202).send({ jobId: job.id, deduplicated });
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ url }) + '\n');
process.on('SIGTERM', () => {
  void app.close().then(() => closeQueues(queues)).then(() => redis.quit()).then(() => process.exit(0));
});
