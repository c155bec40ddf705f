import { Readable } from 'node:stream';
import type { StorageDriver } from '@mfb/storage';
import { ArtifactNotFoundError, ManifestInvalidError, ManifestMismatchError } from './errors.js';
import { BACKUP_ID_RE, DATABASE_ID_RE, extensionFor, manifestKeyFor } from './ids.js';
import { ENCRYPTION_ALGORITHM } from './crypto.js';
import type { Manifest } from './types.js';

const HEX64 = /^[0-9a-f]{64}$/;
const MAX_MANIFEST_BYTES = 64 * 1024;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Check that `value` is a well-formed v1 manifest. Returns the list of problems (empty = valid).
 * Hand-written rather than schema-driven so the engine has no runtime dependency for it.
 */
export function manifestProblems(value: unknown): string[] {
  const p: string[] = [];
  if (!isObj(value)) return ['not a JSON object'];
  const m = value;
  if (m.formatVersion !== 1 && m.formatVersion !== 2 && m.formatVersion !== 3) p.push('formatVersion must be 1, 2 or 3');
  if (typeof m.backupId !== 'string' || !BACKUP_ID_RE.test(m.backupId)) p.push('backupId');
  if (typeof m.databaseId !== 'string' || !DATABASE_ID_RE.test(m.databaseId)) p.push('databaseId');
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt))) p.push('createdAt');
  if (typeof m.artifactKey !== 'string') p.push('artifactKey');
  if (!isObj(m.artifact) || !isCount(m.artifact.sizeBytes) || typeof m.artifact.sha256 !== 'string' || !HEX64.test(m.artifact.sha256))
    p.push('artifact');
  const s = m.snapshot;
  if (
    !isObj(s) ||
    !isCount(s.sizeBytes) ||
    typeof s.sha256 !== 'string' ||
    !HEX64.test(s.sha256) ||
    (s.method !== 'vacuum-into' && s.method !== 'backup-api') ||
    !isObj(s.sqlite) ||
    !isCount(s.sqlite.pageSize) ||
    !isCount(s.sqlite.pageCount) ||
    typeof s.sqlite.userVersion !== 'number' ||
    typeof s.sqlite.journalMode !== 'string'
  )
    p.push('snapshot');
  else if (s.tables !== undefined && (!isObj(s.tables) || !Object.values(s.tables).every(isCount))) p.push('snapshot.tables');
  if (m.rekeyedFrom !== undefined && (typeof m.rekeyedFrom !== 'string' || !BACKUP_ID_RE.test(m.rekeyedFrom))) p.push('rekeyedFrom');
  if (m.compactedFrom !== undefined && (typeof m.compactedFrom !== 'string' || !BACKUP_ID_RE.test(m.compactedFrom) || !isPaged(m as { formatVersion: number }) || m.kind !== 'full'))
    p.push('compactedFrom');
  const c = m.compression;
  if (!isObj(c) || !['gzip', 'zstd', 'none'].includes(c.algorithm as string) || !(c.level === null || isCount(c.level))) p.push('compression');
  const e = m.encryption;
  if (e !== null && (!isObj(e) || e.algorithm !== ENCRYPTION_ALGORITHM || typeof e.keyId !== 'string' || !isCount(e.chunkSize)))
    p.push('encryption');
  if (!isObj(m.tool) || m.tool.name !== 'myfinance-backup' || typeof m.tool.version !== 'string') p.push('tool');
  if (isPaged(m as { formatVersion: number })) p.push(...v2Problems(m));
  if (p.length === 0) {
    const mm = m as unknown as Manifest;
    const expected = `${mm.databaseId}/${mm.backupId}${extensionFor(mm.compression.algorithm, mm.encryption !== null, mm.kind === 'delta')}`;
    if (mm.artifactKey !== expected) p.push(`artifactKey must be ${expected}`);
  }
  return p;
}

/**
 * Whether a backup is in the page-level family (formatVersion 2 or 3: page-identical
 * snapshot, page map, full or delta) rather than a formatVersion 1 full.
 */
export function isPaged(m: { formatVersion: number }): boolean {
  return m.formatVersion >= 2;
}

const isHex64 = (v: unknown): boolean => typeof v === 'string' && HEX64.test(v);

/** The formatVersion 2 and 3 fields (docs/backup-format.md, "Incremental backups"). */
function v2Problems(m: Record<string, unknown>): string[] {
  const p: string[] = [];
  if (m.kind !== 'full' && m.kind !== 'delta') return ['kind must be full or delta'];
  const delta = m.kind === 'delta';
  if (!isCount(m.chainLength) || (m.chainLength === 0) === delta) p.push('chainLength');
  if (delta ? typeof m.parentId !== 'string' || !BACKUP_ID_RE.test(m.parentId) : m.parentId !== null) p.push('parentId');
  const pm = m.pageMap;
  if (!isObj(pm) || typeof pm.key !== 'string' || pm.key !== `${String(m.databaseId)}/${String(m.backupId)}.pagemap` || !isCount(pm.sizeBytes) || !isHex64(pm.sha256))
    p.push('pageMap');
  const c = m.chain;
  if (!isObj(c) || typeof c.baseId !== 'string' || !isCount(c.baseArtifactBytes) || !isCount(c.deltaArtifactBytes)) p.push('chain');
  else if (!delta && c.baseId !== m.backupId) p.push('chain.baseId');
  if (isObj(m.snapshot) && m.snapshot.method !== 'backup-api') p.push('snapshot.method must be backup-api');
  if (delta) {
    const pa = m.parent;
    if (!isObj(pa) || pa.backupId !== m.parentId || typeof pa.artifactKey !== 'string' || !isHex64(pa.snapshotSha256) || !isCount(pa.pageCount)) p.push('parent');
    const d = m.delta;
    if (!isObj(d) || !isCount(d.sizeBytes) || !isHex64(d.sha256) || !isCount(d.changedPages)) p.push('delta');
  } else if (m.parent !== undefined || m.delta !== undefined) p.push('a full has no parent or delta');
  return p;
}

export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(m, null, 2) + '\n', 'utf8');
}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    n += b.length;
    if (n > limit) {
      stream.destroy();
      throw new Error('manifest larger than ' + limit + ' bytes');
    }
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/**
 * Read and validate the manifest of `artifactKey`.
 * BACKUP_NOT_FOUND when absent, BACKUP_MANIFEST_INVALID when malformed,
 * BACKUP_MANIFEST_MISMATCH when it describes another artifact.
 */
export async function readManifest(storage: StorageDriver, artifactKey: string): Promise<Manifest> {
  const key = manifestKeyFor(artifactKey);
  let raw: Buffer;
  try {
    raw = await readAll(await storage.get(key), MAX_MANIFEST_BYTES);
  } catch (err) {
    if ((err as { code?: string }).code === 'STORAGE_NOT_FOUND') throw new ArtifactNotFoundError(artifactKey, { cause: err });
    if (err instanceof Error && err.message.startsWith('manifest larger')) throw new ManifestInvalidError(key, err.message);
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ManifestInvalidError(key, 'not JSON', { cause: err });
  }
  const problems = manifestProblems(parsed);
  if (problems.length) throw new ManifestInvalidError(key, problems.join(', '));
  const m = parsed as Manifest;
  if (m.artifactKey !== artifactKey) throw new ManifestMismatchError(artifactKey, `manifest names ${m.artifactKey}`);
  return m;
}

export async function writeManifest(storage: StorageDriver, m: Manifest, signal?: AbortSignal): Promise<string> {
  const key = manifestKeyFor(m.artifactKey);
  const body = serializeManifest(m);
  await storage.put(key, Readable.from([body]), { contentType: 'application/json', size: body.length, ...(signal ? { signal } : {}) });
  return key;
}
