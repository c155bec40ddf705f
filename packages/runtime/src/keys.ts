import type { Catalog } from '@mfb/catalog';
import type { Config } from '@mfb/config';
import { AppError } from '@mfb/errors';

/**
 * A key id was removed from `keys` while live backups are still encrypted with it: they
 * could no longer be restored. Refused at start-up of the worker, the API and the CLI.
 */
export class KeyStillInUseError extends AppError {
  constructor(keyIds: string, affected: readonly string[]) {
    super(
      'KEY_STILL_IN_USE',
      `key(s) ${keyIds} are no longer in the config but still protect live backups: ${affected.join(', ')}. ` +
        'Put the key back in `keys`, re-encrypt those backups (`backupctl rekey <db> --all --to-key <id>`), then remove it.',
      { permanent: true, status: 500, details: { keyIds: keyIds.split(', '), backups: [...affected] } },
    );
  }
}

/**
 * Refuse a config that lost a key the catalog's live backups still need (the config alone
 * cannot know: it never reads the catalog). "Lost" = the config had it at the last start that
 * passed this check (the catalog remembers the config's key ids): a catalog rebuilt on a new
 * machine whose config never had a key (disaster recovery with `--key-file`) is not refused.
 * Lists up to 20 affected backups per key. On success the config's key ids are remembered.
 * @throws KeyStillInUseError
 */
export async function checkKeysInUse(config: Pick<Config, 'keys'>, catalog: Pick<Catalog, 'keyUsage' | 'configKeyIds' | 'setConfigKeyIds'>): Promise<void> {
  const known = await catalog.configKeyIds();
  const had = new Set(known);
  const missing = (await catalog.keyUsage()).filter((u) => !config.keys.has(u.keyId) && had.has(u.keyId));
  if (missing.length === 0) {
    const now = [...config.keys.keys()].sort();
    if (now.join('\u0000') !== known.join('\u0000')) await catalog.setConfigKeyIds(now);
    return;
  }
  const affected = missing.flatMap((u) => [
    ...u.examples.map((e) => `${e.databaseId}/${e.backupId} (key ${u.keyId})`),
    ...(u.backups > u.examples.length ? [`and ${u.backups - u.examples.length} more with key ${u.keyId}`] : []),
  ]);
  throw new KeyStillInUseError(missing.map((u) => u.keyId).join(', '), affected);
}
