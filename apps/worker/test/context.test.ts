import { describe, expect, it } from 'vitest';
import { JOB_NAMES } from '@mfb/jobs';
import type { Handler, Handlers } from '../src/context.js';
import { handlers } from '../src/handlers/index.js';

describe('handler reach', () => {
  it('a handler sees its job plus what its type names, nothing else (held by tsc: an unused @ts-expect-error fails typecheck)', () => {
    const prune: Handler<'prune', 'catalog'> = async (ctx) => {
      // @ts-expect-error: this handler did not name `keys`
      void ctx.keys;
      // @ts-expect-error: no handler sees the whole config
      void ctx.config;
      // @ts-expect-error: nor the queues (chained jobs go through followUp)
      void ctx.queues;
      return { database: ctx.database.id, target: ctx.payload.target, catalog: ctx.catalog };
    };
    // A narrow handler still fills the table that needs exactly one handler per job name.
    const table: Handlers = { ...handlers, prune };
    expect(Object.keys(table).sort()).toEqual([...JOB_NAMES].sort());
  });
});
