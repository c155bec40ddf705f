import { randomBytes } from 'node:crypto';
import type { CompressionAlgorithm } from './types.js';

import { BACKUP_ID_RE, ID_RE } from '@mfb/client';

/** Database ids (the shared id rule); backup ids as {@link newBackupId} makes them. */
export { ID_RE as DATABASE_ID_RE, BACKUP_ID_RE };

/** Suffix of the manifest stored beside every artifact. */
export const MANIFEST_SUFFIX = '.manifest.json';

/**
 * Suffix of the pin marker stored beside a pinned artifact in the primary storage (see
 * `writePinMarker`). Not a manifest: code that lists manifests by `MANIFEST_SUFFIX` skips it.
 */
export const PIN_SUFFIX = '.pin.json';

/** `20261126T124800123Z-1a2b3c4d`: sortable by time, unique by the random tail. */
export function newBackupId(now: Date = new Date()): string {
  const iso = now.toISOString(); // 2026-11-26T12:48:00.123Z
  const stamp = iso.slice(0, 19).replace(/[-:]/g, '') + iso.slice(20, 23) + 'Z';
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** `.sqlite` for a database image (v1, v2 full), `.delta` for a v2 delta payload. */
export function extensionFor(algorithm: CompressionAlgorithm, encrypted: boolean, delta = false): string {
  const comp = algorithm === 'gzip' ? '.gz' : algorithm === 'zstd' ? '.zst' : '';
  return `${delta ? '.delta' : '.sqlite'}${comp}${encrypted ? '.enc' : ''}`;
}

/** `<databaseId>/<backupId>.sqlite[.gz|.zst][.enc]`, or `.delta[...]` for a delta. */
export function artifactKeyFor(databaseId: string, backupId: string, algorithm: CompressionAlgorithm, encrypted: boolean, delta = false): string {
  return `${databaseId}/${backupId}${extensionFor(algorithm, encrypted, delta)}`;
}

/** Key of the manifest that belongs to `artifactKey`. */
export function manifestKeyFor(artifactKey: string): string {
  return artifactKey + MANIFEST_SUFFIX;
}

/** Key of the pin marker of `artifactKey` (`<artifactKey>.pin.json`). */
export function pinKeyFor(artifactKey: string): string {
  return artifactKey + PIN_SUFFIX;
}
