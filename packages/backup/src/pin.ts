import { Readable } from 'node:stream';
import type { PutOptions, StorageDriver } from '@mfb/storage';
import { pinKeyFor } from './ids.js';

export const PIN_FORMAT_VERSION = 1;

/** Body of `<artifactKey>.pin.json`. Informational: its presence alone means "pinned". */
export interface PinMarker {
  backupId: string;
  pinnedAt: string;
  formatVersion: typeof PIN_FORMAT_VERSION;
}

/**
 * Pins are stored in storage as well as in the catalog, so a catalog rebuilt from storage
 * alone (invariant 6) gets them back. The marker lives beside the manifest of EVERY live copy
 * (primary storage and each target: the API's pin writes them all, an upload of a pinned
 * backup copies it), so a catalog rebuilt from any one bucket gets the pin back.
 *
 * Crash safety decides the order of the two writes. A marker without a catalog pin only
 * keeps a backup longer (a rebuild pins it; prune deletes a stale marker with its
 * artifact): safe. A catalog pin without a marker is lost on rebuild, and the next prune
 * may delete the backup: unsafe. Hence:
 * - pin: write the marker FIRST, then set the catalog pin;
 * - unpin: clear the catalog pin FIRST, then delete the marker.
 *
 * `put` is atomic (driver contract), so a marker is either whole or absent.
 */
export async function writePinMarker(
  storage: StorageDriver,
  artifactKey: string,
  backupId: string,
  now: Date = new Date(),
  put: Pick<PutOptions, 'storageClass' | 'signal'> = {},
): Promise<string> {
  const key = pinKeyFor(artifactKey);
  const marker: PinMarker = { backupId, pinnedAt: now.toISOString(), formatVersion: PIN_FORMAT_VERSION };
  const body = Buffer.from(JSON.stringify(marker, null, 2) + '\n', 'utf8');
  await storage.put(key, Readable.from([body]), { ...put, contentType: 'application/json', size: body.length });
  return key;
}

/** Delete the pin marker of `artifactKey`; a missing marker is not an error. */
export async function deletePinMarker(storage: StorageDriver, artifactKey: string): Promise<void> {
  await storage.delete(pinKeyFor(artifactKey));
}

/** Whether `artifactKey` has a pin marker (one `head`; the body is not read). */
export async function hasPinMarker(storage: StorageDriver, artifactKey: string): Promise<boolean> {
  return (await storage.head(pinKeyFor(artifactKey))) !== null;
}
