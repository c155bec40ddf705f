import type { StorageDriver } from '@mfb/storage';
import { parseHeader, type EncryptionHeader } from './crypto.js';
import { ArtifactNotFoundError } from './errors.js';
import { readManifest } from './manifest.js';
import type { Manifest } from './types.js';

export interface ArtifactInspection {
  manifest: Manifest;
  /** Parsed encryption header (no key needed); null for unencrypted artifacts. */
  encryptionHeader: Omit<EncryptionHeader, 'salt' | 'keyCheck'> & { saltHex: string } | null;
  /** Current size in storage (compare with manifest.artifact.sizeBytes). */
  storedSizeBytes: number;
}

/** Manifest plus the artifact's encryption header, without any key and without a full download. */
export async function inspectArtifact(storage: StorageDriver, artifactKey: string): Promise<ArtifactInspection> {
  const manifest = await readManifest(storage, artifactKey);
  const head = await storage.head(artifactKey);
  if (!head) throw new ArtifactNotFoundError(artifactKey);
  let encryptionHeader: ArtifactInspection['encryptionHeader'] = null;
  if (manifest.encryption) {
    const stream = await storage.get(artifactKey);
    let buf = Buffer.alloc(0);
    try {
      for await (const chunk of stream) {
        buf = Buffer.concat([buf, chunk as Buffer]);
        const h = parseHeader(buf);
        if (h) {
          encryptionHeader = { version: h.version, keyId: h.keyId, chunkSize: h.chunkSize, headerBytes: h.headerBytes, saltHex: h.salt.toString('hex') };
          break;
        }
        if (buf.length > 1024) break;
      }
    } finally {
      stream.destroy();
    }
  }
  return { manifest, encryptionHeader, storedSizeBytes: head.size };
}
