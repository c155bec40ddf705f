import type { Catalog } from '@mfb/catalog';
import { RESTORE_DRILL_SCHEDULE_ID, type Config, type ScheduleConfig } from '@mfb/config';

/**
 * Seed the catalog's desired schedules from the config file: every `databases[].schedules`
 * entry is upserted with origin `config`; `config` schedules no longer in the file are
 * deleted. The restore drill of each database (`restoreDrill`, unless off) is the config
 * schedule `restore-drill` (a verify job: scheduled verifies are drills). Schedules created through the API (origin `api`) are left alone.
 */
export async function seedConfigSchedules(catalog: Catalog, config: Config): Promise<{ upserted: number; deleted: number }> {
  const wanted = new Set<string>();
  let upserted = 0;
  for (const db of config.databases) {
    const drill: ScheduleConfig[] = db.restoreDrill.enabled
      ? [{ id: RESTORE_DRILL_SCHEDULE_ID, job: 'verify', cron: db.restoreDrill.cron, timezone: db.restoreDrill.timezone, paused: false }]
      : [];
    for (const s of [...db.schedules, ...drill]) {
      wanted.add(`${db.id}\u0000${s.id}`);
      const cur = await catalog.getSchedule(db.id, s.id);
      if (cur && cur.origin === 'config' && cur.cron === s.cron && cur.timezone === s.timezone && cur.job === s.job && cur.paused === s.paused) continue;
      await catalog.upsertSchedule({ databaseId: db.id, scheduleId: s.id, job: s.job, cron: s.cron, timezone: s.timezone, paused: s.paused, origin: 'config' });
      upserted++;
    }
  }
  let deleted = 0;
  for (const s of await catalog.listSchedules()) {
    if (s.origin === 'config' && !wanted.has(`${s.databaseId}\u0000${s.scheduleId}`)) {
      await catalog.deleteSchedule(s.databaseId, s.scheduleId);
      deleted++;
    }
  }
  return { upserted, deleted };
}
