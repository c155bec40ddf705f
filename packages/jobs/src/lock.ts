import { randomUUID } from 'node:crypto';
import { LockLostError, LockNotReplicatedError } from './errors.js';
import { hasReplicas, type RedisConnection } from './redis.js';

// Compare-and-delete / compare-and-extend: only the owner token may release or renew, so a
// holder whose lock expired (paused process, lost network) can never free someone else's lock.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * A held per-database lock, fenced: it counts as held only until `validUntil` (the time the
 * last successful SET/renewal was SENT + TTL - safety margin). Past that moment another owner
 * may hold the key, whatever this process believes, so `signal` aborts and {@link check}
 * throws. Renewal errors (Redis unreachable) do not extend it.
 */
export interface HeldLock {
  readonly key: string;
  readonly token: string;
  /** True once the lock was taken over or its deadline passed without a renewal. */
  readonly lost: boolean;
  /** Epoch ms until which the lock is known to be held (renewals move it forward). */
  readonly validUntil: number;
  /**
   * Replicas that acknowledged the last lock write (`WAIT`, after the acquisition and each
   * renewal), or `null` when the locks do not wait for replicas (one server, Cluster).
   */
  readonly replicasAcknowledged: number | null;
  /** Aborted (reason: JOBS_LOCK_LOST) when the lock is lost or its deadline passes, so the job stops touching the database. */
  readonly signal: AbortSignal;
  /**
   * Synchronous fence, for right before a durable step (store an artifact, write a manifest,
   * a catalog row, delete): throws JOBS_LOCK_LOST if the deadline has passed, even when the
   * deadline timer has not fired yet (a process resumed after SIGSTOP runs I/O callbacks
   * before timers).
   */
  check(): void;
  release(): Promise<void>;
}

/** How much before the TTL the holder stops trusting its lock (clock drift, the round trip of the renewal). */
export function lockSafetyMarginMs(ttlMs: number): number {
  return Math.max(20, Math.floor(ttlMs / 5));
}

/** While a replica is missing, how long each lock write still waits for one (a probe). */
const REPLICA_PROBE_MS = 20;
/** How long after an unacknowledged lock write the locks only probe (renewed by every miss). */
const REPLICA_DEGRADED_MS = 10_000;

/** What a lock write's replication looked like (`WAIT`), for logs. */
export interface LockReplicationEvent {
  databaseId: string;
  phase: 'acquire' | 'renew';
  acknowledged: number;
  wanted: number;
  timeoutMs: number;
}

export interface LockOptions {
  /**
   * Replicas that must acknowledge each lock write (`WAIT <replicas> <timeout>` after the SET and
   * after each renewal). Redis replicates asynchronously: on a failover the promoted replica may
   * lack a lock the old primary acknowledged, and a second worker could take the database.
   * @defaultValue 1 on a Sentinel-managed primary (a failover promotes a replica), else 0 (no WAIT)
   */
  replicas?: number;
  /** How long a lock write waits for the replicas; the connection is held that long when none answers. @defaultValue 1000 */
  replicaTimeoutMs?: number;
  /**
   * When fewer replicas acknowledged in time: `false` (default) warn and keep the lock; `true`
   * give it back and fail the acquisition with JOBS_LOCK_NOT_REPLICATED (transient), or, on a
   * renewal, count the lock as lost (the job aborts and is retried).
   */
  requireReplica?: boolean;
  /** Where the warnings go (pino-style); every WAIT is also reported at debug level. */
  log?: { warn(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
}

/**
 * Per-database mutual exclusion across processes and hosts: `SET key token NX PX ttl`,
 * renewed every ttl/3 while held, released with a compare-and-delete script. A lock of a
 * killed worker disappears after `ttlMs`; a holder that cannot renew stops trusting its lock
 * a safety margin before that (see {@link HeldLock}).
 */
type LockRedis = RedisConnection & {
  mfbLockRelease(key: string, token: string): Promise<number>;
  mfbLockRenew(key: string, token: string, ttlMs: string): Promise<number>;
};

export class DatabaseLocks {
  private readonly redis: LockRedis;
  private readonly replicas: number;
  private readonly replicaTimeoutMs: number;
  /** Until then a replica was found missing: lock writes only probe for one. */
  private degradedUntil = 0;
  /** The timeout of the last WAIT (the full one, or the probe's), for the error. */
  private lastWaitMs = 0;

  constructor(
    redis: RedisConnection,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly opts: LockOptions = {},
  ) {
    this.replicas = opts.replicas ?? (hasReplicas(redis) ? 1 : 0);
    this.replicaTimeoutMs = opts.replicaTimeoutMs ?? 1000;
    // defineCommand: EVALSHA with the script cached by Redis (EVAL fallback after a restart).
    if (!('mfbLockRelease' in redis)) {
      redis.defineCommand('mfbLockRelease', { numberOfKeys: 1, lua: RELEASE });
      redis.defineCommand('mfbLockRenew', { numberOfKeys: 1, lua: RENEW });
    }
    this.redis = redis as LockRedis;
  }

  keyOf(databaseId: string): string {
    return `${this.prefix}:mfb:lock:db:${databaseId}`;
  }

  /**
   * `WAIT` for the replicas after a lock write on this connection: how many acknowledged it,
   * or `null` without replicas to wait for. Fewer than wanted is logged as a warning, once per
   * outage: after it, lock writes only probe ({@link REPLICA_PROBE_MS}) until a replica
   * acknowledges again, so a missing replica does not hold the shared connection for the full
   * timeout on every lock write.
   */
  private async replicate(databaseId: string, phase: LockReplicationEvent['phase']): Promise<number | null> {
    if (this.replicas <= 0) return null;
    const degraded = Date.now() < this.degradedUntil;
    const timeoutMs = degraded ? Math.min(REPLICA_PROBE_MS, this.replicaTimeoutMs) : this.replicaTimeoutMs;
    this.lastWaitMs = timeoutMs;
    const acknowledged = Number(await this.redis.call('WAIT', String(this.replicas), String(timeoutMs)));
    const event: LockReplicationEvent = { databaseId, phase, acknowledged, wanted: this.replicas, timeoutMs };
    if (acknowledged < this.replicas) {
      this.degradedUntil = Date.now() + REPLICA_DEGRADED_MS;
      if (!degraded) {
        this.opts.log?.warn(
          event,
          `lock of database ${databaseId}: ${acknowledged} of ${this.replicas} replica(s) acknowledged it within ${timeoutMs} ms; a Redis failover now could lose it ` +
            `(until a replica answers again, locks wait at most ${REPLICA_PROBE_MS} ms for one)`,
        );
      } else this.opts.log?.debug?.(event, 'lock not replicated (replica still missing)');
    } else {
      if (degraded) this.opts.log?.warn(event, 'locks are acknowledged by a replica again');
      this.degradedUntil = 0;
      this.opts.log?.debug?.(event, 'lock replicated');
    }
    return acknowledged;
  }

  /**
   * Try once; `null` when another owner holds the lock.
   * @throws LockNotReplicatedError with `requireReplica` when too few replicas acknowledged it
   */
  async tryAcquire(databaseId: string): Promise<HeldLock | null> {
    const key = this.keyOf(databaseId);
    const token = randomUUID();
    const ttl = this.ttlMs;
    const margin = lockSafetyMarginMs(ttl);
    const sentAt = Date.now();
    const ok = await this.redis.set(key, token, 'PX', ttl, 'NX');
    if (ok !== 'OK') return null;
    let replicasAcknowledged: number | null;
    try {
      replicasAcknowledged = await this.replicate(databaseId, 'acquire');
    } catch (err) {
      await this.redis.mfbLockRelease(key, token).catch(() => undefined);
      throw err;
    }
    if (replicasAcknowledged !== null && replicasAcknowledged < this.replicas && this.opts.requireReplica) {
      await this.redis.mfbLockRelease(key, token).catch(() => undefined);
      throw new LockNotReplicatedError(databaseId, replicasAcknowledged, this.replicas, this.lastWaitMs);
    }
    const controller = new AbortController();
    let lost = false;
    let released = false;
    let validUntil = sentAt + ttl - margin;
    let deadline: NodeJS.Timeout | undefined;

    const lose = (reason: string): void => {
      if (lost || released) return;
      lost = true;
      clearInterval(renewer);
      clearTimeout(deadline);
      controller.abort(new LockLostError(databaseId, reason));
    };
    const check = (): void => {
      if (!lost && !released && Date.now() >= validUntil) lose(`not renewed within its TTL of ${ttl} ms`);
      if (lost) throw controller.signal.reason as Error;
    };
    const arm = (): void => {
      clearTimeout(deadline);
      deadline = setTimeout(check_, Math.max(0, validUntil - Date.now()));
      deadline.unref();
    };
    const check_ = (): void => {
      try {
        check();
      } catch {
        // aborted: the signal carries the reason
      }
      if (!lost && !released) arm();
    };
    const renewer = setInterval(() => {
      if (lost || released) return;
      // A renewal that arrives after the deadline does not revive the lock: another owner may
      // have held it in between.
      if (Date.now() >= validUntil) return check_();
      const at = Date.now();
      this.redis.mfbLockRenew(key, token, String(ttl)).then(
        (r) => {
          if (released || lost) return;
          if (r !== 1) return lose('another owner holds it');
          if (Date.now() < validUntil) {
            validUntil = at + ttl - margin;
            arm();
          } else return check_();
          this.replicate(databaseId, 'renew').then(
            (n) => {
              if (n === null) return;
              replicasAcknowledged = n;
              if (n < this.replicas && this.opts.requireReplica) lose(`${n} of ${this.replicas} replica(s) acknowledged its renewal within ${this.replicaTimeoutMs} ms`);
            },
            () => undefined,
          );
        },
        // Transient Redis errors: keep trying until the deadline.
        () => undefined,
      );
    }, Math.max(50, Math.floor(ttl / 3)));
    renewer.unref();
    arm();
    const redis = this.redis;
    return {
      key,
      token,
      get lost() {
        return lost;
      },
      get validUntil() {
        return validUntil;
      },
      get replicasAcknowledged() {
        return replicasAcknowledged;
      },
      signal: controller.signal,
      check,
      async release() {
        if (released) return;
        released = true;
        clearInterval(renewer);
        clearTimeout(deadline);
        await redis.mfbLockRelease(key, token);
      },
    };
  }

  /** Current owner token (tests, diagnostics). */
  async owner(databaseId: string): Promise<string | null> {
    return this.redis.get(this.keyOf(databaseId));
  }
}
