/** `redis`: the queue's Redis (`REDIS_URL`, `MFB_REDIS_PREFIX` override). */
import { Type } from '@sinclair/typebox';
import { redactUrl } from '@mfb/errors';
import { show, type Problems } from '../validate.js';

function refineRedisUrl(u: string, path: string, p: Problems): string | undefined {
  // One server, Sentinel (`redis+sentinel://s1:26379,s2:26379/<primary>`) or Cluster
  // (`redis+cluster://n1:6379,n2:6379`); @mfb/jobs reads the host lists (docs/scaling.md).
  if (/^rediss?(\+sentinel|\+cluster)?:\/\/[^\s]+$/.test(u)) return u;
  p.add(path, `must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL, got ${show(redactUrl(u))}`);
  return undefined;
}

export const RedisSchema = Type.Object(
  {
    url: Type.Optional(Type.String({ secret: true, refine: refineRedisUrl, description: 'redis://, rediss://, redis+sentinel://s1,s2/<primary> or redis+cluster://n1,n2 URL (env REDIS_URL)' })),
    prefix: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$',
        patternText: 'letters, digits, _ . : - (at most 64)',
        description: 'BullMQ key prefix (env MFB_REDIS_PREFIX)',
      }),
    ),
    tls: Type.Optional(Type.Boolean({ description: 'default: true for rediss:// (and rediss+sentinel://, rediss+cluster://)' })),
  },
  { additionalProperties: false },
);
