import { mkdtemp, mkdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { BACKUP_ID_RE, MANIFEST_SUFFIX, ManifestInvalidError, readManifest, type KeyRing, type Manifest } from '@mfb/backup';
import { readKeyFile } from '@mfb/config';
import { openStorage, type StorageDriver } from '@mfb/storage';
import { BACKUP_ID_PATTERN } from '@mfb/client';
import { ArtifactFileNotFoundError, BackupNotFoundError, InvalidIdError, KeyFileError, NO_KEY_HINT, UnknownKeyIdError, UsageError } from './errors.js';
import type { Context } from './context.js';

export interface ResolvedArtifact {
  storage: StorageDriver;
  artifactKey: string;
  /** Where the reference was resolved: the catalog, a storage listing, or files named on the command line. */
  via: 'catalog' | 'storage' | 'files';
  /** Removes scratch state (a temporary storage root for loose files). */
  release(): Promise<void>;
}

export interface SourceOptions {
  /** A storage directory (or URL) to read from instead of the configured primary storage. */
  fromDir?: string;
  /** A configured target (`local`, `offsite`, ...) to read from instead of the primary storage. */
  from?: string;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Turn what the operator typed into (storage, artifactKey):
 *
 * 1. a path to an artifact file or its `.manifest.json`: works from those two files alone
 *    (disaster recovery: no config, no catalog). If the files sit in a storage tree
 *    (`<root>/<databaseId>/<file>`) that tree is used, otherwise a temporary root with links
 *    to them is made, because the engine checks the manifest's `artifactKey`;
 * 2. `--from-dir DIR` (a storage directory or URL) with a backup id or an artifact key: no catalog;
 * 3. a backup id: looked up in the catalog, then (if the catalog does not know it) in primary
 *    storage, or in the configured target `--from` names;
 * 4. an artifact key (`<databaseId>/<file>`) in primary storage (or the `--from` target).
 */
export async function resolveArtifact(ctx: Context, ref: string, opts: SourceOptions = {}): Promise<ResolvedArtifact> {
  const noop = async () => {};
  if (opts.from !== undefined && opts.fromDir !== undefined) throw new UsageError('give either --from <target> or --from-dir <dir>, not both');
  if (!opts.fromDir && opts.from === undefined) {
    if (await isFile(ref)) return fromFiles(resolve(ref));
    // Looks like a path (artifact keys never start with `.` or `/`) but is not a file.
    if (ref.startsWith('.') || ref.startsWith(sep)) throw new ArtifactFileNotFoundError(ref);
  }
  // Neither a backup id nor an artifact key (`<databaseId>/<file>`): malformed, not unknown.
  if (!BACKUP_ID_RE.test(ref) && !ref.includes('/')) throw new InvalidIdError('backup', ref, BACKUP_ID_PATTERN);
  if (opts.fromDir) {
    const storage = openStorage(/^[a-z][a-z0-9+.-]*:\/\//i.test(opts.fromDir) ? opts.fromDir : resolve(opts.fromDir));
    const key = BACKUP_ID_RE.test(ref) ? await findInStorage(storage, ref) : stripManifest(ref);
    if (!key) throw new BackupNotFoundError(ref, { hint: `no manifest for it in ${storage.url}` });
    return { storage, artifactKey: key, via: 'storage', release: noop };
  }
  const target = opts.from ?? 'local';
  // An unknown target name fails here (TARGET_NOT_FOUND), before anything is read.
  const storage = await ctx.storage(target);
  if (BACKUP_ID_RE.test(ref)) {
    const catalog = await ctx.catalog();
    const rec = await catalog.getBackup(ref);
    const loc = rec?.locations.find((l) => l.target === target && l.deletedAt === null);
    if (loc) return { storage, artifactKey: loc.artifactKey, via: 'catalog', release: noop };
    // The catalog can lag behind storage (or be lost): storage is the source of truth.
    const key = await findInStorage(storage, ref);
    if (key) return { storage, artifactKey: key, via: 'storage', release: noop };
    throw new BackupNotFoundError(ref, { hint: rec ? `its ${target} copy was deleted` : `not in the catalog nor in ${storage.url}` });
  }
  return { storage, artifactKey: stripManifest(ref), via: 'storage', release: noop };
}

function stripManifest(key: string): string {
  return key.endsWith(MANIFEST_SUFFIX) ? key.slice(0, -MANIFEST_SUFFIX.length) : key;
}

/** Artifact key of `backupId` in `storage`, found through its manifest; null if absent. */
export async function findInStorage(storage: StorageDriver, backupId: string): Promise<string | null> {
  let cursor: string | undefined;
  do {
    const page = await storage.list('', { ...(cursor ? { cursor } : {}), limit: 1000 });
    for (const o of page.items) {
      if (!o.key.endsWith(MANIFEST_SUFFIX)) continue;
      const base = o.key.slice(o.key.lastIndexOf('/') + 1);
      if (base.startsWith(backupId + '.')) return o.key.slice(0, -MANIFEST_SUFFIX.length);
    }
    cursor = page.cursor;
  } while (cursor);
  return null;
}

async function fromFiles(path: string): Promise<ResolvedArtifact> {
  const artifactPath = stripManifest(path);
  const manifestPath = artifactPath + MANIFEST_SUFFIX;
  if (!(await isFile(artifactPath))) throw new ArtifactFileNotFoundError(artifactPath);
  if (!(await isFile(manifestPath))) throw new ArtifactFileNotFoundError(manifestPath, 'manifest (expected beside the artifact)');
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Partial<Manifest>;
  } catch (err) {
    throw new ManifestInvalidError(manifestPath, 'not valid JSON', { cause: err });
  }
  const key = manifest.artifactKey;
  if (typeof key !== 'string' || key.includes('..') || key.startsWith('/') || key === '') {
    throw new ManifestInvalidError(manifestPath, 'no usable artifactKey');
  }
  const suffix = sep + key.split('/').join(sep);
  if (artifactPath.endsWith(suffix)) {
    // Still laid out as in storage: use that tree as the root.
    const root = artifactPath.slice(0, -suffix.length) || sep;
    return { storage: openStorage(root), artifactKey: key, via: 'files', release: async () => {} };
  }
  // Loose files (copied, renamed directory): present them under the key the manifest names.
  const root = await mkdtemp(join(tmpdir(), 'backupctl-files-'));
  const linked = join(root, ...key.split('/'));
  await mkdir(dirname(linked), { recursive: true, mode: 0o700 });
  await symlink(artifactPath, linked);
  await symlink(manifestPath, linked + MANIFEST_SUFFIX);
  return { storage: openStorage(root), artifactKey: key, via: 'files', release: () => rm(root, { recursive: true, force: true }) };
}

/**
 * A key file read by the config's reader (`readKeyFile` of @mfb/config): the same mode rule
 * (0600, else refused) and format (base64 or hex of 32 bytes) as `keys[].file`.
 * @throws ArtifactFileNotFoundError when missing, KeyFileError when refused.
 */
export function readKeyFileOrThrow(path: string): Buffer {
  const r = readKeyFile(path);
  if (r.ok) return r.key;
  if (r.reason === 'missing') throw new ArtifactFileNotFoundError(path, 'key file');
  throw new KeyFileError(path, r.problem);
}

/**
 * Keys to decrypt with: the configured keys (when a config is in use) plus `--key-file`
 * entries. `--key-file ID=PATH` names the key id; a bare `PATH` is offered for whatever key id
 * the artifact's manifest names (disaster recovery: the operator has the key file, not the config).
 */
export async function keyRingFor(
  ctx: Context,
  art: ResolvedArtifact,
  keyFiles: string[],
  useConfig: boolean,
): Promise<KeyRing> {
  const ring = new Map<string, Buffer>();
  if (useConfig) {
    const cfg = await ctx.config();
    for (const [id, k] of cfg.keys) ring.set(id, k);
  }
  let manifest: Manifest | undefined;
  for (const spec of keyFiles) {
    const m = /^([A-Za-z0-9._-]+)=(.+)$/.exec(spec);
    const path = m ? m[2]! : spec;
    const key = readKeyFileOrThrow(path);
    if (m) ring.set(m[1]!, key);
    else {
      manifest ??= await readManifest(art.storage, art.artifactKey);
      if (manifest.encryption) ring.set(manifest.encryption.keyId, key);
    }
  }
  if (ring.size === 0) {
    manifest ??= await readManifest(art.storage, art.artifactKey);
    if (manifest.encryption) throw new UnknownKeyIdError(manifest.encryption.keyId, { hint: NO_KEY_HINT });
  }
  return ring;
}
