import { ID_RE, ID_RULE } from '@mfb/client';
import type { Config, DatabaseConfig } from '@mfb/config';
import { DatabaseNotFoundError, InvalidIdError } from '@mfb/errors';

/**
 * The configured database `id`.
 * @throws InvalidIdError when `id` cannot be a database id, DatabaseNotFoundError when no
 * database has it (`listKnown`: name the configured ids in the message, for operators).
 */
export function databaseFor(config: Pick<Config, 'databases'>, id: string, opts: { listKnown?: boolean } = {}): DatabaseConfig {
  if (!ID_RE.test(id)) throw new InvalidIdError('database', id, ID_RULE);
  const db = config.databases.find((d) => d.id === id);
  if (!db) throw new DatabaseNotFoundError(id, opts.listKnown ? config.databases.map((d) => d.id) : undefined);
  return db;
}
