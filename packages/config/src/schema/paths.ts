/** Top-level paths: `dataDir`, `catalogPath` or `catalogUrl`, `tmpDir`, `storageUrl` (the primary storage). */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Type } from '@sinclair/typebox';
import { redactUrl } from '@mfb/errors';
import { show, type Problems } from '../validate.js';

/** A storage URL (file://, s3://, ...) or a local path; the problem names no credentials. */
export function refineStorageUrl(url: string, fp: string, p: Problems): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || url.startsWith('/') || url.startsWith('./') || url.startsWith('../')) return url;
  p.add(fp, `must be a storage URL (file:///abs/path, file://./relative/path; s3://, gs://, azblob:// with their drivers), got ${show(redactUrl(url))}`);
  return undefined;
}

/**
 * Resolve a storage URL's relative local path (`file://./x`, `./x`) against `base` and turn
 * bare paths into `file://` URLs (percent-encoded where needed, e.g. spaces).
 */
export function absolutizeStorageUrl(url: string, base: string): string {
  const rel = /^file:\/\/(\.\.?(?:\/.*)?)$/i.exec(url);
  if (rel) return pathToFileURL(path.resolve(base, decodeURIComponent(rel[1]!))).href;
  if (url.startsWith('./') || url.startsWith('../') || url === '.' || url === '..' || url.startsWith('/')) {
    return pathToFileURL(path.resolve(base, url)).href;
  }
  return url;
}

/** A PostgreSQL URL for the catalog (`postgres://` or `postgresql://`); never echoed with its password. */
export function refineCatalogUrl(url: string, fp: string, p: Problems): string | undefined {
  if (/^postgres(ql)?:\/\/[^\s]+$/.test(url)) return url;
  p.add(fp, `must be a postgres:// URL (omit it for the embedded SQLite catalog at catalogPath), got ${show(redactUrl(url))}`);
  return undefined;
}

/** A storage URL (may hold credentials: never echoed). */
export const StorageUrl = (description: string) => Type.String({ secret: true, refine: refineStorageUrl, description });

export const PathsSchema = {
  dataDir: Type.Optional(Type.String({ description: 'root of the embedded defaults (0700)', default: './data' })),
  catalogPath: Type.Optional(Type.String({ description: 'SQLite catalog; default <dataDir>/catalog.db' })),
  catalogUrl: Type.Optional(
    Type.String({ secret: true, refine: refineCatalogUrl, description: 'postgres://... for a PostgreSQL catalog shared by several hosts (env MFB_CATALOG_URL); absent: SQLite at catalogPath' }),
  ),
  tmpDir: Type.Optional(Type.String({ description: 'scratch space for snapshots and restores; default <dataDir>/tmp' })),
  storageUrl: Type.Optional(StorageUrl('primary storage, every backup is written here first; default file://<dataDir>/backups')),
};
