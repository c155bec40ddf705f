/**
 * The one cron rule, for the config file's `databases[].schedules[]` and the API's schedule
 * routes (apps/api/src/services/cron.ts wraps it in its error codes): a schedule is accepted
 * by both or refused by both.
 *
 * 1. 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), at most
 *    {@link CRON_MAX_LENGTH} characters, only characters cron allows;
 * 2. parsed by cron-parser, the parser BullMQ runs schedules with (same version): ranges,
 *    names, steps, `L`/`W`/`#`; a pattern that never fires (`0 0 31 2 *`) is refused;
 * 3. an IANA time zone this runtime knows;
 * 4. at least {@link MIN_SCHEDULE_INTERVAL_SECONDS} between any two of its next 3 runs. Three
 *    runs decide it whatever the time it is asked: a gap under 60 s needs two seconds values
 *    (one seconds value means whole minutes apart), and then every matched minute holds such
 *    a gap; the first run may be the last one of its minute, the next two are in the next
 *    matched minute. (Two runs, the API's old rule, answered `0,30 0-59/5 * * * *` by the clock.)
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { isValidTimeZone, show } from './validate.js';

/** Longest cron pattern accepted (the API's request schema says the same). */
export const CRON_MAX_LENGTH = 120;
/** Shortest interval between two runs of a schedule. */
export const MIN_SCHEDULE_INTERVAL_SECONDS = 60;
/** How many upcoming runs the interval rule looks at (see rule 4). */
const FREQUENCY_SAMPLE_RUNS = 3;

const CRON_FIELD = /^[0-9A-Za-z*?/,#LW-]+$/;

/** Problem with a cron pattern's shape (field count, characters), or undefined when fine. */
export function cronProblem(cron: string): string | undefined {
  if (cron.length > CRON_MAX_LENGTH) return `cron must be at most ${CRON_MAX_LENGTH} characters, got ${cron.length}`;
  const fields = cron.trim().split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5 && fields.length !== 6) {
    return `cron must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fields.length} in ${show(cron)}`;
  }
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  if (bad !== undefined) return `cron field ${show(bad)} has characters cron does not allow`;
  return undefined;
}

/** Why a schedule is refused: which field is wrong, and what to say. */
export type CronCheckProblem =
  | { kind: 'timezone'; message: string }
  | { kind: 'cron'; message: string }
  | { kind: 'too-frequent'; message: string; intervalSeconds: number };

export type CronCheck = { ok: true; nextRunAt: Date; intervalSeconds: number } | ({ ok: false } & CronCheckProblem);

/**
 * The cron-parser expression for a pattern that passed {@link cronProblem}, as BullMQ parses
 * it; a message (never the parser's stack) when it does not parse.
 */
export function parseCron(cron: string, timezone: string, from: Date): CronExpression | string {
  const shape = cronProblem(cron);
  if (shape) return shape;
  try {
    return CronExpressionParser.parse(cron.trim(), { tz: timezone, currentDate: from, strict: false });
  } catch (err) {
    return (err as Error).message.slice(0, 200);
  }
}

/**
 * Check a schedule (cron + time zone) the way BullMQ will run it. On success: its next run
 * and the shortest interval among its next runs.
 */
export function checkCron(cron: string, timezone: string, from: Date = new Date()): CronCheck {
  if (!isValidTimeZone(timezone)) {
    return { ok: false, kind: 'timezone', message: `unknown time zone ${show(timezone)} (use an IANA name such as Europe/Berlin or UTC)` };
  }
  const expr = parseCron(cron, timezone, from);
  if (typeof expr === 'string') return { ok: false, kind: 'cron', message: expr };
  const runs: number[] = [];
  try {
    for (let i = 0; i < FREQUENCY_SAMPLE_RUNS && expr.hasNext(); i++) runs.push(expr.next().getTime());
  } catch (err) {
    if (runs.length < 2) return { ok: false, kind: 'cron', message: `never runs (${(err as Error).message.slice(0, 120)})` };
  }
  if (runs.length < 2) return { ok: false, kind: 'cron', message: 'never runs (no two upcoming dates match)' };
  let gap = Infinity;
  for (let i = 1; i < runs.length; i++) gap = Math.min(gap, runs[i]! - runs[i - 1]!);
  const intervalSeconds = Math.round(gap / 1000);
  if (intervalSeconds < MIN_SCHEDULE_INTERVAL_SECONDS) {
    return {
      ok: false,
      kind: 'too-frequent',
      intervalSeconds,
      message: `schedule would run every ${intervalSeconds} s; the minimum interval is ${MIN_SCHEDULE_INTERVAL_SECONDS} s`,
    };
  }
  return { ok: true, nextRunAt: new Date(runs[0]!), intervalSeconds };
}
