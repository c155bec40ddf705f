import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who owns a scratch file: `o<host>-<boot>-<pid>-<start>` in its name, so a later run (CLI or
 * worker, any database) can tell a file of a dead process from one a live backup is writing,
 * without a lock file or a shared service.
 *
 * - `host`: 8 hex of the host name and the PID namespace (containers sharing a volume see
 *   other PIDs); a file of another host or namespace is never judged (kept).
 * - `boot`: 8 hex of the kernel's boot id: a file of an earlier boot has a dead owner.
 * - `pid` + `start` (the process start time in clock ticks, /proc/<pid>/stat field 22): the
 *   owner is alive if that PID exists and started at that time (so a reused PID is not mistaken
 *   for the owner). Without /proc (not Linux) `boot` and `start` are `0` and a PID that exists
 *   counts as alive: never a false "dead".
 */
export interface ScratchOwner {
  host: string;
  boot: string;
  pid: number;
  start: string;
}

const OWNER_RE = /^o([0-9a-f]{8})-([0-9a-f]{8}|0)-(\d+)-(\d+)$/;

const hex8 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);

function readOr(read: () => string, fallback: string): string {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** Start time of `pid` in clock ticks since boot, or null when it is not known (no such process, no /proc). */
function startTicks(pid: number | 'self'): string | null {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, 'utf8'), '');
  // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.length > 19 ? fields[19]! : null;
}

let self: ScratchOwner | undefined;

/** This process as a scratch owner. */
export function currentOwner(): ScratchOwner {
  self ??= {
    host: hex8(`${hostname()}\0${readOr(() => readlinkSync('/proc/self/ns/pid'), '')}`),
    boot: readOr(() => hex8(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()), '0'),
    pid: process.pid,
    start: startTicks('self') ?? '0',
  };
  return self;
}

export function formatOwner(o: ScratchOwner): string {
  return `o${o.host}-${o.boot}-${o.pid}-${o.start}`;
}

export function parseOwner(s: string): ScratchOwner | null {
  const m = OWNER_RE.exec(s);
  return m ? { host: m[1]!, boot: m[2]!, pid: Number(m[3]), start: m[4]! } : null;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * `dead`: the owner is provably gone (an earlier boot, no such PID, or the PID now belongs to
 * a process started at another time). `alive`: this process or a live one. `unknown`: another
 * host or PID namespace, which this process cannot see.
 */
export function ownerState(o: ScratchOwner): 'dead' | 'alive' | 'unknown' {
  const me = currentOwner();
  if (o.host !== me.host) return 'unknown';
  if (o.boot !== me.boot) return o.boot === '0' || me.boot === '0' ? 'unknown' : 'dead';
  if (o.pid === me.pid) return o.start === me.start ? 'alive' : 'dead';
  if (!pidExists(o.pid)) return 'dead';
  const start = o.start === '0' ? null : startTicks(o.pid);
  return start === null || start === o.start ? 'alive' : 'dead';
}
