/**
 * TEST-ONLY switches for apps/worker/test and bench/jobs. Never enabled unless a
 * `--test-only-*` flag is passed on the command line.
 *
 * - `--test-only-handler=sleep|noop`: every job name runs a handler that sleeps
 *   `--test-only-sleep-ms` (default 0) instead of the engine; still inside the real runner
 *   (payload check, database lock, history, metrics).
 * - `--test-only-handler=noop-engine`: like `noop`, but `backup` still chains a `prune` of
 *   `local` as the real handler does (queue-overhead benchmark).
 * - `--test-only-record=<file>`: append one JSON line per job with its start and end.
 * - `--test-only-throttle-bps=<n>`: slow every storage write to n bytes/s (to kill a worker
 *   in the middle of a real backup).
 * - `--test-only-die-after-release=<queue>`: SIGKILL this worker right after a job of that
 *   queue finished its work and released its lock, before its history and its completion
 *   reach the catalog and BullMQ (the job comes back as a re-run of work already done).
 * - `--test-only-kill-after=<step>[:<n>]`: SIGKILL this process right after the n-th (default
 *   1st) completed `step` of the deletion protocol: `manifest-delete`, `artifact-delete`,
 *   `marker-delete` (storage deletes of a copy's manifest, artifact, pin marker) or
 *   `catalog-mark` (the catalog recorded copies deleted). Crash-safety tests of prune.
 */
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable, Transform } from 'node:stream';
import type { StorageDriver } from '@mfb/storage';
import type { Handler, Handlers } from '../context.js';
import type { WorkerRuntimeOptions } from '../runtime.js';

export function testOnlyOptions(args: Record<string, string | boolean | undefined>): Partial<WorkerRuntimeOptions> {
  const out: Partial<WorkerRuntimeOptions> = {};
  const handler = args['test-only-handler'];
  if (handler === 'sleep' || handler === 'noop') {
    const ms = Number(args['test-only-sleep-ms'] ?? 0);
    const h: Handler<never> = async (ctx) => {
      if (ms > 0) await sleep(ms, undefined, { signal: ctx.signal });
      return { slept: ms };
    };
    out.handlers = { backup: h, upload: h, prune: h, restore: h, verify: h } as unknown as Handlers;
  } else if (handler === 'noop-engine') {
    const h: Handler<never> = async () => ({});
    const backup: Handler<'backup', 'followUp'> = async (ctx) => {
      return { prune: ctx.followUp('prune', { databaseId: ctx.database.id, target: 'local' }) };
    };
    out.handlers = { backup, upload: h, prune: h, restore: h, verify: h } as unknown as Handlers;
  } else if (handler !== undefined) {
    throw new Error(`unknown --test-only-handler ${String(handler)}`);
  }
  const record = args['test-only-record'];
  if (typeof record === 'string') {
    const starts = new Map<string, number>();
    out.hooks = {
      onStart: (i) => starts.set(i.jobId, Date.now()),
      onEnd: (i) => {
        const start = starts.get(i.jobId) ?? 0;
        starts.delete(i.jobId);
        appendFileSync(record, JSON.stringify({ ...i, start, end: Date.now(), pid: process.pid }) + '\n');
      },
    };
  }
  const die = args['test-only-die-after-release'];
  if (typeof die === 'string') {
    const prev = out.hooks;
    out.hooks = {
      ...prev,
      afterRelease: (i) => {
        prev?.afterRelease?.(i);
        if (i.queue === die) process.kill(process.pid, 'SIGKILL');
      },
    };
  }
  const bps = Number(args['test-only-throttle-bps'] ?? 0);
  if (bps > 0) out.wrapStorage = (d) => throttled(d, bps);
  const kill = args['test-only-kill-after'];
  if (typeof kill === 'string') {
    const [step, n] = kill.split(':') as [string, string | undefined];
    if (!KILL_STEPS.includes(step as KillStep)) throw new Error(`unknown --test-only-kill-after step ${step} (${KILL_STEPS.join(', ')})`);
    let left = Number(n ?? 1);
    const passed = (s: KillStep): void => {
      if (s === step && --left === 0) process.kill(process.pid, 'SIGKILL');
    };
    const inner = out.wrapStorage;
    out.wrapStorage = (d0, target) => {
      const d = inner ? inner(d0, target) : d0;
      return {
        ...forward(d),
        async delete(key) {
          await d.delete(key);
          passed(key.endsWith('.manifest.json') ? 'manifest-delete' : key.endsWith('.pin.json') ? 'marker-delete' : 'artifact-delete');
        },
      };
    };
    out.wrapCatalog = (c) =>
      new Proxy(c, {
        get(t, prop, recv) {
          const v = Reflect.get(t, prop, recv) as unknown;
          if (typeof v !== 'function') return v;
          if (prop === 'markLocationsDeleted' || prop === 'markLocationDeleted') {
            return async (...a: unknown[]) => {
              await (v as (...x: unknown[]) => Promise<void>).apply(t, a);
              passed('catalog-mark');
            };
          }
          return (v as (...x: unknown[]) => unknown).bind(t);
        },
      });
  }
  return out;
}

const KILL_STEPS = ['manifest-delete', 'artifact-delete', 'marker-delete', 'catalog-mark'] as const;
type KillStep = (typeof KILL_STEPS)[number];

/** Every method of `d`, forwarded (drivers are classes: spreading them copies no methods). */
function forward(d: StorageDriver): StorageDriver {
  return {
    get url() {
      return d.url;
    },
    ...(d.capabilities ? { capabilities: d.capabilities } : {}),
    put: (k, b, o) => d.put(k, b, o),
    get: (k, o) => d.get(k, o),
    head: (k) => d.head(k),
    list: (p, o) => d.list(p, o),
    delete: (k) => d.delete(k),
    cleanupIncomplete: (p, ms) => d.cleanupIncomplete(p, ms),
  };
}

function throttled(d: StorageDriver, bytesPerSec: number): StorageDriver {
  return {
    get url() {
      return d.url;
    },
    put(key, body, opts) {
      const slow = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          setTimeout(() => cb(null, chunk), Math.ceil((chunk.length / bytesPerSec) * 1000));
        },
      });
      return d.put(key, (body as Readable).pipe(slow), opts);
    },
    get: (k, o) => d.get(k, o),
    head: (k) => d.head(k),
    list: (p, o) => d.list(p, o),
    delete: (k) => d.delete(k),
    cleanupIncomplete: (p, ms) => d.cleanupIncomplete(p, ms),
  };
}
