import fp from 'fastify-plugin';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { JOB_NAMES } from '@mfb/jobs';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board for every queue at `/admin/queues`. The auth hook requires `admin` for these
 * routes (they declare no scope): basic auth with the admin user, or an admin API key.
 */
export const bullBoardPlugin = fp(
  async (app) => {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    createBullBoard({
      queues: JOB_NAMES.map((n) => new BullMQAdapter(app.queues[n], { readOnlyMode: false, allowRetries: true })),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'MyFinance Backup' } },
    });
    await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  },
  { name: 'mfb-bull-board', fastify: '5.x', dependencies: ['mfb-deps', 'mfb-auth'] },
);
