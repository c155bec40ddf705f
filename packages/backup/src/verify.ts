import { fetchAndCheck } from './fetch-check.js';
import type { VerifyOptions, VerifyResult } from './types.js';

/**
 * Prove that a stored backup restores: the same checks as a restore (checksums, GCM
 * authentication of every chunk, decompression, `PRAGMA integrity_check`) with no target.
 */
export async function verifyBackup(opts: VerifyOptions): Promise<VerifyResult> {
  const checked = await fetchAndCheck(opts);
  try {
    return { manifest: checked.manifest, integrity: 'ok', tables: checked.tables, timings: checked.timings };
  } finally {
    await checked.cleanup();
  }
}
