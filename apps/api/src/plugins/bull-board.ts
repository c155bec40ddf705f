import { STATUS_CODES } from 'node:http';
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
    // Bull Board's own handler answers 500 for everything, including a malformed query
    // (e.g. `?status=%00` fails its JSON.parse): client mistakes become 400 here.
    const onError = (error: Error & { statusCode?: number }) => {
      const status = error instanceof SyntaxError ? 400 : error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      if (status >= 500) app.log.error({ err: error }, 'bull board error');
      return {
        status,
        body: {
          type: 'about:blank',
          title: STATUS_CODES[status] ?? 'Error',
          status,
          detail: status < 500 ? error.message.slice(0, 200) : 'unexpected error in Bull Board',
          code: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR',
          instance: BULL_BOARD_PATH,
        },
      };
    };
    // Bull Board types `status` as a union of literal codes; ours is a computed number.
    serverAdapter.setErrorHandler(onError as unknown as Parameters<FastifyAdapter['setErrorHandler']>[0]);
    await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  },
  { name: 'mfb-bull-board', fastify: '5.x', dependencies: ['mfb-deps', 'mfb-auth'] },
);
