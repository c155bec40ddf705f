/**
 * azblob:// driver against Azurite (npm `azurite`, in-memory), started by @mfb/testkit on a free port.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobServiceClient } from '@azure/storage-blob';
import { AZURITE_ACCOUNT, startAzurite } from '@mfb/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage, type StorageDriver } from '../src/index.js';
import { runStorageConformance } from './conformance.js';
import { cloudDriverTests } from './cloud-driver-tests.js';

const CONTAINER = 'mfb-test';
const az = await startAzurite();
const credDir = await mkdtemp(path.join(tmpdir(), 'mfb-az-cred-'));
afterAll(async () => {
  await az?.stop();
  await rm(credDir, { recursive: true, force: true });
});
if (az) process.stderr.write(`azurite started in ${az.startMs} ms\n`);

const keyFile = path.join(credDir, 'key.json');
const connFile = path.join(credDir, 'conn.txt');
if (az) {
  await writeFile(keyFile, JSON.stringify({ accountKey: az.accountKey }));
  await writeFile(connFile, az.connectionString);
  await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(CONTAINER).createIfNotExists();
}

const d = az ? describe : describe.skip;

/** A driver on Azurite with an account-key file; 1 MiB blocks so the larger conformance bodies are staged in blocks. */
function open(prefix: string = randomUUID(), options: Record<string, unknown> = {}, container = CONTAINER): StorageDriver {
  return openStorage(`azblob://${AZURITE_ACCOUNT}/${container}/${prefix}`, {
    options: { endpoint: az!.blobEndpoint, credentialsFile: keyFile, blockSize: '1MiB', ...options },
  });
}

d('azblob:// driver (Azurite)', () => {
  runStorageConformance('azblob:// (AzureBlobStorageDriver, Azurite)', async () => {
    const prefix = randomUUID();
    return {
      driver: open(prefix),
      open: (options) => open(prefix, options),
      storageClass: 'Cool',
      multipartBytes: 3 * 1024 * 1024,
      // Plain Put Blobs, 64 at a time (as the S3 suite seeds): the listing tests only need the
      // keys to exist, and a driver put is two requests (upload, then getProperties).
      seed: async (keys) => {
        const container = BlobServiceClient.fromConnectionString(az!.connectionString).getContainerClient(CONTAINER);
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < keys.length) {
            const k = keys[next++]!;
            await container.getBlockBlobClient(`${prefix}/${k}`).upload(k, Buffer.byteLength(k));
          }
        };
        await Promise.all(Array.from({ length: 64 }, worker));
      },
      cleanup: async () => undefined,
    };
  });

  cloudDriverTests({
    open: (options) => open(undefined, { blockSize: '256KiB', ...options }),
    storageClasses: { option: 'Cool', put: 'Archive', default: 'Hot' },
    missingContainer: () => open(undefined, {}, 'no-such-container'),
    redactedTarget: /azblob:\/\/devstoreaccount1\/no-such-container\//,
  });

  it('concurrent multi-block puts of one key: one wins, the other fails transiently, never a mix', async () => {
    const s = open(undefined, { blockSize: '64KiB' });
    const a = randomBytes(512 * 1024);
    const b = randomBytes(256 * 1024);
    const results = await Promise.allSettled([s.put('same', Readable.from([a])), s.put('same', Readable.from([b]))]);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'STORAGE_UNAVAILABLE', permanent: false });
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    const chunks: Buffer[] = [];
    for await (const c of await s.get('same')) chunks.push(c as Buffer);
    const got = Buffer.concat(chunks);
    expect(got.equals(a) || got.equals(b)).toBe(true);
  });

  it('stages many blocks with bounded concurrency and reads them back byte for byte', async () => {
    const s = open(undefined, { blockSize: '64KiB', concurrency: 3 });
    const data = randomBytes(1024 * 1024 + 3);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const info = await s.put('multi/block', Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), { sha256 });
    expect(info.size).toBe(data.length);
    const chunks: Buffer[] = [];
    for await (const c of await s.get('multi/block')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('get of an Archive-tier blob fails at once with STORAGE_REJECTED (rehydration needed), head still works', async () => {
    const s = open();
    await s.put('cold', Readable.from([Buffer.from('frozen')]), { storageClass: 'Archive' });
    expect(await s.head('cold')).toMatchObject({ size: 6, storageClass: 'Archive' });
    await expect(s.get('cold')).rejects.toMatchObject({ code: 'STORAGE_REJECTED', permanent: true, message: expect.stringContaining('rehydrated') });
  });

  it('a connection string file works like an account key file', async () => {
    const s = openStorage(`azblob://${AZURITE_ACCOUNT}/${CONTAINER}/${randomUUID()}`, { options: { credentialsFile: connFile } });
    await s.put('c', Readable.from([Buffer.from('conn')]));
    expect((await s.head('c'))?.size).toBe(4);
  });

  it('a wrong account key fails at once with STORAGE_AUTH_FAILED and no secret in the message', async () => {
    const bad = path.join(credDir, 'bad.json');
    const wrongKey = randomBytes(64).toString('base64');
    await writeFile(bad, JSON.stringify({ accountKey: wrongKey }));
    const s = open('p', { credentialsFile: bad });
    for (const call of [() => s.head('k'), () => s.put('k', Readable.from([Buffer.from('x')])), () => s.list('')]) {
      const err = (await call().then(
        () => undefined,
        (e: unknown) => e,
      )) as Error;
      expect(err).toMatchObject({ code: 'STORAGE_AUTH_FAILED', permanent: true });
      expect(err.message).toContain(`azblob://${AZURITE_ACCOUNT}/${CONTAINER}/p`);
      expect(err.message).not.toContain(wrongKey);
    }
  });

  it('a missing credentialsFile fails with STORAGE_AUTH_FAILED naming the file, not its content', async () => {
    const s = open('p', { credentialsFile: path.join(credDir, 'nope.json') });
    await expect(s.head('k')).rejects.toMatchObject({ code: 'STORAGE_AUTH_FAILED', message: expect.stringContaining('nope.json') });
  });

  it('refuses credentials in the URL and invalid account/container names at open', () => {
    expect(() => openStorage(`azblob://user:secret@${AZURITE_ACCOUNT}/c0ntainer/p`)).toThrow(
      expect.objectContaining({ code: 'STORAGE_INVALID_URL', message: expect.not.stringContaining('secret') }),
    );
    expect(() => openStorage('azblob://Bad_Account/c/p')).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_URL' }));
    expect(() => openStorage('azblob://acct/Bad_Container/p')).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_URL' }));
    expect(() => openStorage(`azblob://acct/cont/p?accessTier=Cool`, { options: { accessTier: 'Hot' } })).toThrow(
      expect.objectContaining({ code: 'STORAGE_INVALID_OPTIONS' }),
    );
  });
});
