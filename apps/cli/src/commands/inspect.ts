import { inspectArtifact } from '@mfb/backup';
import { resolveArtifact, type SourceOptions } from '../artifacts.js';
import type { Context } from '../context.js';
import { bytes, fields } from '../format.js';

/** Manifest and encryption header of a backup; needs no key and reads only the header bytes. */
export async function runInspect(ctx: Context, ref: string, o: SourceOptions) {
  const art = await resolveArtifact(ctx, ref, o);
  try {
    const res = await inspectArtifact(art.storage, art.artifactKey);
    return {
      storage: art.storage.url,
      artifactKey: art.artifactKey,
      storedSizeBytes: res.storedSizeBytes,
      sizeMatchesManifest: res.storedSizeBytes === res.manifest.artifact.sizeBytes,
      manifest: res.manifest,
      encryptionHeader: res.encryptionHeader,
    };
  } finally {
    await art.release();
  }
}

export function humanInspect(r: Awaited<ReturnType<typeof runInspect>>): string {
  const m = r.manifest;
  const h = r.encryptionHeader;
  return fields([
    ['backup', m.backupId],
    ['database', m.databaseId],
    ['created', m.createdAt],
    ['artifact', `${r.artifactKey} in ${r.storage}`],
    ['stored size', `${bytes(r.storedSizeBytes)} (${r.storedSizeBytes} B)${r.sizeMatchesManifest ? '' : ` - MANIFEST SAYS ${m.artifact.sizeBytes} B`}`],
    ['artifact sha256', m.artifact.sha256],
    // formatVersion 3 records the page-list digest (docs/backup-format.md 7.3), not `sha256sum` of the file.
    ['snapshot', `${bytes(m.snapshot.sizeBytes)} via ${m.snapshot.method}, ${m.formatVersion >= 3 ? 'page-list digest' : 'sha256'} ${m.snapshot.sha256}`],
    ['format', `formatVersion ${m.formatVersion}${m.kind ? `, ${m.kind}${m.parentId ? ` of ${m.parentId}` : ''}` : ''}`],
    ['sqlite', `page size ${m.snapshot.sqlite.pageSize}, ${m.snapshot.sqlite.pageCount} pages, user_version ${m.snapshot.sqlite.userVersion}, journal ${m.snapshot.sqlite.journalMode}`],
    ['compression', `${m.compression.algorithm}${m.compression.level !== null ? ` level ${m.compression.level}` : ''}`],
    ['encryption', m.encryption ? `${m.encryption.algorithm}, key id ${m.encryption.keyId}, chunk ${m.encryption.chunkSize} B` : 'none'],
    ['header', h ? `version ${h.version}, key id ${h.keyId}, chunk ${h.chunkSize} B, ${h.headerBytes} header bytes, salt ${h.saltHex}` : undefined],
    ['tool', `${m.tool.name} ${m.tool.version}`],
  ]);
}
