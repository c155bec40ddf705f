/**
 * Rules every part of the system shares, defined once: the id pattern (databases, targets,
 * schedules, key and API-key ids), the backup id format and the API key scopes.
 *
 * They live in the client because the client is the public contract that leaves this
 * repository (it is packed for npm): this module imports nothing, so the packed client
 * carries them without a workspace dependency, and config, jobs, the engine, the API and
 * the CLI import them from here (see docs/architecture.md, "Where each rule lives").
 */

/**
 * Ids of databases, storage targets, schedules, encryption keys and API keys: safe in
 * storage keys, URLs, Redis keys, file names and metric labels.
 */
export const ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';
/** {@link ID_PATTERN} as a RegExp. */
export const ID_RE = new RegExp(ID_PATTERN);
/** {@link ID_PATTERN} for error messages. */
export const ID_RULE = `${ID_PATTERN} (lower-case letters, digits, _ and -, at most 63)`;

/**
 * Host ids (`databases[].host`, `worker.host`): the machine that holds a database file, and the
 * one a worker serves. Host names as DNS spells them, lower case (`db-1`, `db-1.example.com`):
 * safe in BullMQ queue names (`backup@db-1`), Redis keys and metric labels.
 */
export const HOST_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
/** {@link HOST_PATTERN} as a RegExp. */
export const HOST_RE = new RegExp(HOST_PATTERN);
/** {@link HOST_PATTERN} for error messages. */
export const HOST_RULE = `${HOST_PATTERN} (lower-case letters, digits, ., _ and -, at most 63)`;

/** Backup ids as the engine makes them: `20261126T124800123Z-1a2b3c4d` (sortable by time). */
export const BACKUP_ID_PATTERN = '^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{8}$';
/** {@link BACKUP_ID_PATTERN} as a RegExp. */
export const BACKUP_ID_RE = new RegExp(BACKUP_ID_PATTERN);

/** API key scopes, weakest first; each scope includes the ones before it. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The scopes `granted` amounts to: each scope includes the weaker ones. */
export function impliedScopes(granted: readonly Scope[]): Scope[] {
  const top = Math.max(-1, ...granted.map((s) => SCOPES.indexOf(s)));
  return SCOPES.slice(0, top + 1);
}
