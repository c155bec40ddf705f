/**
 * gs:// driver against the firebase-tools Cloud Storage emulator (JSON API, no Java), started
 * by @mfb/testkit on a free port. The emulator only knows the buckets named here, like GCS.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startGcsEmulator } from '@mfb/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { GcsStorageDriver } from '../src/gs.driver.js';
import { openStorage } from '../src/index.js';
import { runStorageConformance } from './conformance.js';
import { cloudDriverTests } from './cloud-driver-tests.js';

const BUCKET = 'mfb-test';
const emu = await startGcsEmulator({ buckets: [BUCKET] });
afterAll(async () => emu?.stop());
if (emu) process.stderr.write(`gcs emulator (firebase-tools) started in ${emu.startMs} ms\n`);

const d = emu ? describe : describe.skip;

function open(prefix: string = randomUUID(), options: Record<string, unknown> = {}, bucket = BUCKET): GcsStorageDriver {
  return openStorage(`gs://${bucket}/${prefix}`, { options: { apiEndpoint: emu!.endpoint, chunkSize: '256KiB', ...options } }) as GcsStorageDriver;
}

d('gs:// driver (firebase-tools storage emulator)', () => {
  runStorageConformance('gs:// (GcsStorageDriver, emulator)', async () => {
    const prefix = randomUUID();
    return { driver: open(prefix), open: (options) => open(prefix, options), storageClass: 'NEARLINE', multipartBytes: 1024 * 1024, cleanup: async () => undefined };
  });

  cloudDriverTests({
    open: (options) => open(undefined, options),
    storageClasses: { option: 'NEARLINE', put: 'COLDLINE', default: 'STANDARD' },
    missingContainer: () => open(undefined, {}, 'no-such-bucket-mfb'),
    redactedTarget: /gs:\/\/no-such-bucket-mfb\//,
  });

  it('an upload of several chunks is verified and stored byte for byte', async () => {
    const s = open(undefined, { chunkSize: '256KiB' });
    const data = randomBytes(1024 * 1024 + 5);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const info = await s.put('multi/chunk', Readable.from([data.subarray(0, 700_000), data.subarray(700_000)]), { sha256 });
    expect(info.size).toBe(data.length);
    const chunks: Buffer[] = [];
    for await (const c of await s.get('multi/chunk')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('an unreadable credentialsFile fails at once with STORAGE_AUTH_FAILED naming the target', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mfb-gcs-cred-'));
    try {
      const file = path.join(dir, 'key.json');
      await writeFile(file, '{ not json');
      const s = open('p', { credentialsFile: file });
      const err = await s.head('x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'STORAGE_AUTH_FAILED', permanent: true });
      expect((err as Error).message).toContain(`gs://${BUCKET}/p`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects a chunkSize that is not a multiple of 256KiB at open', () => {
    expect(() => open('p', { chunkSize: 300_000 })).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_OPTIONS' }));
  });

  it('a wrong bearer token is refused with STORAGE_AUTH_FAILED (GCS 401)', async () => {
    const guarded = await startGcsEmulator({ buckets: [BUCKET], token: 'right-token' });
    try {
      // No credentials are sent to a custom endpoint without credentialsFile: the guard sees none.
      const s = openStorage(`gs://${BUCKET}/x`, { options: { apiEndpoint: guarded!.endpoint } });
      await expect(s.head('k')).rejects.toMatchObject({ code: 'STORAGE_AUTH_FAILED', permanent: true });
      await expect(s.put('k', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'STORAGE_AUTH_FAILED' });
    } finally {
      await guarded?.stop();
    }
  });
});
