import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { PROBLEM_JSON, genericCode, problem } from './problem.js';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board answers its own errors as `{error: {key}}` JSON (unknown queue or job: 404) or,
 * through the error handler below, `{detail}`: turn every error answer into problem+json.
 */
function boardErrorsAsProblems(req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, p: unknown) => void): void {
  const type = String(reply.getHeader('content-type') ?? '');
  if (reply.statusCode < 400 || type.startsWith(PROBLEM_JSON) || typeof payload !== 'string') return done(null, payload);
  let detail: string = STATUS_CODES[reply.statusCode] ?? 'Error';
  try {
    const body = JSON.parse(payload) as { detail?: unknown; error?: { key?: unknown } | string; message?: unknown };
    const d = body.detail ?? (typeof body.error === 'object' ? body.error?.key : body.error) ?? body.message;
    if (typeof d === 'string' && d) detail = d.slice(0, 200);
  } catch {
    // not JSON: keep the status text
  }
  reply.type(`${PROBLEM_JSON}; charset=utf-8`);
  done(null, JSON.stringify(problem(req, reply.statusCode, genericCode(reply.statusCode), detail)));
}

/**
 * Bull Board for every queue (shared and per host) at `/admin/queues`. The auth hook requires `admin` for these
 * routes (they declare no scope): basic auth with the admin user, or an admin API key.
 */
export const bullBoardPlugin = fp(
  async (app) => {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    createBullBoard({
      // The shared queues and the host queues (`backup@db-1`) of the hosts the databases name.
      queues: app.queues.all().map((q) => new BullMQAdapter(q, { readOnlyMode: false, allowRetries: true })),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'MyFinance Backup' } },
    });
    // Bull Board's own handler answers 500 for everything, including a malformed query
    // (e.g. `?status=%00` fails its JSON.parse): client mistakes become 400 here.
    const onError = (error: Error & { statusCode?: number }) => {
      const status = error instanceof SyntaxError ? 400 : error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      if (status >= 500) app.log.error({ err: error }, 'bull board error');
      return { status, body: { detail: status < 500 ? error.message.slice(0, 200) : 'unexpected error in Bull Board' } };
    };
    // Bull Board types `status` as a union of literal codes; ours is a computed number.
    serverAdapter.setErrorHandler(onError as unknown as Parameters<FastifyAdapter['setErrorHandler']>[0]);
    await app.register(async (board) => {
      board.addHook('onSend', boardErrorsAsProblems);
      await board.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
    });
  },
  { name: 'mfb-bull-board', fastify: '5.x', dependencies: ['mfb-deps', 'mfb-auth'] },
);
