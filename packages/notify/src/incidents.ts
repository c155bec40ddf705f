import type { Cluster, Redis } from 'ioredis';

/**
 * Incident state shared by every worker, so a failing database produces one failure message
 * however many workers see its jobs fail, and survives restarts. A key exists only while its
 * incident is open.
 */
export interface IncidentStore {
  /** Open an incident at `since`; true when it was not open yet (so the caller announces it). */
  open(key: string, since: string): Promise<boolean>;
  /** Close the incident; its `since` when one was open (so the caller announces the recovery), else null. */
  resolve(key: string): Promise<string | null>;
}

/**
 * Incidents as plain Redis keys `<prefix>:notify:incident:<key>` (SET NX / GETDEL: atomic across
 * workers; single-key commands, so a Redis Cluster works too).
 */
export function redisIncidentStore(redis: Redis | Cluster, prefix: string): IncidentStore {
  const k = (key: string): string => `${prefix}:notify:incident:${key}`;
  return {
    async open(key, since) {
      return (await redis.set(k(key), since, 'NX')) === 'OK';
    },
    async resolve(key) {
      return redis.getdel(k(key));
    },
  };
}

/** Open incidents (`databaseId:job[:target]` -> since) for dashboards. */
export async function openIncidents(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const base = `${prefix}:notify:incident:`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) {
      const vals = await redis.mget(keys);
      keys.forEach((key, i) => {
        const v = vals[i];
        if (typeof v === 'string') out.set(key.slice(base.length), v);
      });
    }
  } while (cursor !== '0');
  return out;
}
