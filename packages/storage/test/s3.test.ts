/**
 * The S3 driver against real S3 servers the tests start themselves: `s3rver` (npm, always
 * there, fast, low fidelity) and Ceph `radosgw` (Debian packages; the fidelity reference;
 * skipped LOUDLY when missing, installed by scripts/setup so CI never skips).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { radosgwMissing, startFaultProxy, startRadosgw, startS3rver, type S3TestServer } from '@mfb/testkit';
import { openStorage, type StorageDriver } from '../src/index.js';
import { runStorageConformance, type ServerLimits } from './conformance.js';

const MiB = 1 << 20;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function chunked(buf: Buffer, size = 256 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

async function openUploads(srv: S3TestServer): Promise<number> {
  const res = await srv.client().send(new ListMultipartUploadsCommand({ Bucket: srv.bucket }));
  return (res.Uploads ?? []).length;
}

/**
 * `s3rverQuirks`: s3rver checks neither signed payload hashes nor Content-MD5, nor secrets:
 * the driver runs with `contentMd5` (ETag check) there, and the wrong-secret case is skipped.
 */
function s3Suite(name: string, start: () => Promise<S3TestServer>, limits: ServerLimits = {}, s3rverQuirks = false): void {
  const checksSecrets = !s3rverQuirks;
  describe(name, () => {
    let srv: S3TestServer;
    beforeAll(async () => {
      srv = await start();
      console.info(`${name}: started in ${srv.startupMs} ms`);
    }, 180_000);
    afterAll(async () => {
      await srv?.stop();
    }, 60_000);
    const optionsFor = (): Record<string, unknown> => ({
      endpoint: srv.endpoint,
      credentialsFile: srv.credentialsFile,
      partSize: 5 * MiB,
      ...(s3rverQuirks ? { contentMd5: true } : {}),
    });
    const open = (prefix = randomUUID(), extra: Record<string, unknown> = {}): StorageDriver =>
      openStorage(`s3://${srv.bucket}/${prefix}`, { options: { ...optionsFor(), ...extra } });

    runStorageConformance(
      name,
      async () => {
        const prefix = randomUUID();
        return {
          driver: open(prefix),
          open: (options) => open(prefix, options),
          multipartBytes: 5 * MiB,
          storageClass: 'STANDARD_IA',
          // Plain PutObjects, 64 at a time: the listing tests only need the keys to exist.
          seed: async (keys) => {
            let next = 0;
            const worker = async (): Promise<void> => {
              while (next < keys.length) {
                const k = keys[next++]!;
                await srv.client().send(new PutObjectCommand({ Bucket: srv.bucket, Key: `${prefix}/${k}`, Body: k }));
              }
            };
            await Promise.all(Array.from({ length: 64 }, worker));
          },
          // Each test has its own prefix; the server's temp dir goes with it at the end.
          cleanup: async () => undefined,
        };
      },
      limits,
    );

    describe(`${name}: errors at the right depth`, () => {
      it('a missing bucket fails at once with STORAGE_BUCKET_NOT_FOUND naming the target', async () => {
        const d = openStorage(`s3://no-such-bucket-${randomUUID().slice(0, 8)}/p`, { options: optionsFor() });
        const calls: Array<() => Promise<unknown>> = [() => d.put('x', Readable.from([Buffer.from('x')])), () => d.list(''), () => d.head('x'), () => d.get('x')];
        for (const call of calls) {
          const err = await call().catch((e: unknown) => e);
          expect(err).toMatchObject({ code: 'STORAGE_BUCKET_NOT_FOUND', permanent: true });
          expect((err as Error).message).toMatch(/^\w+ .*s3:\/\/no-such-bucket-\w+\/p.*does not exist$/);
        }
      });

      it(`wrong credentials fail at once with STORAGE_AUTH_FAILED, and the secret is nowhere${checksSecrets ? '' : ' (unknown key only: this server does not check secrets)'}`, async () => {
        const dir = srv.credentialsFile.replace(/\/[^/]+$/, '');
        const bad = join(dir, `bad-${randomUUID()}`);
        const secret = 'WRONGSECRET' + randomUUID();
        await writeFile(bad, `[default]\naws_access_key_id = ${srv.accessKeyId}\naws_secret_access_key = ${secret}\n`, { mode: 0o600 });
        const unknownKey = join(dir, `unknown-${randomUUID()}`);
        await writeFile(unknownKey, `[default]\naws_access_key_id = NOSUCHKEY123\naws_secret_access_key = ${secret}\n`, { mode: 0o600 });
        for (const file of checksSecrets ? [bad, unknownKey] : [unknownKey]) {
          const d = open(randomUUID(), { credentialsFile: file });
          const err = await d.put('x', Readable.from([Buffer.from('x')])).catch((e: unknown) => e);
          expect(err).toMatchObject({ code: 'STORAGE_AUTH_FAILED', permanent: true });
          expect((err as Error).message).toContain(`s3://${srv.bucket}/`);
          expect((err as Error).message).not.toContain(secret);
          expect(JSON.stringify(err)).not.toContain(secret);
          // "At once": no SDK retries with backoff for a permanent failure.
          expect(((err as Error).cause as { $metadata?: { attempts?: number } }).$metadata?.attempts).toBe(1);
          await expect(d.list('')).rejects.toMatchObject({ code: 'STORAGE_AUTH_FAILED' });
        }
      });

      it('an unreachable endpoint is STORAGE_UNAVAILABLE (transient) after the retries', async () => {
        const d = open(randomUUID(), { endpoint: 'http://127.0.0.1:9', maxAttempts: 2, timeoutMs: 2000 });
        const err = await d.put('x', Readable.from([Buffer.from('x')])).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', permanent: false });
        expect((err as Error).message).toContain(`s3://${srv.bucket}/`);
        expect((err as Error).message).not.toMatch(/\n\s+at /);
      });

      it('bad URLs and options fail when opened, before any request', () => {
        const cases: Array<[string, Record<string, unknown>, string]> = [
          [`s3://AKIA:secret@${srv.bucket}/p`, {}, 'STORAGE_INVALID_URL'],
          ['s3:///nobucket', {}, 'STORAGE_INVALID_URL'],
          [`s3://${srv.bucket}/a//b`, {}, 'STORAGE_INVALID_URL'],
          [`s3://${srv.bucket}/p?region=eu-west-1`, { region: 'eu-west-1' }, 'STORAGE_INVALID_OPTIONS'],
          [`s3://${srv.bucket}/p?storageClass=COLD`, {}, 'STORAGE_INVALID_OPTIONS'],
          [`s3://${srv.bucket}/p`, { partSize: '1MiB' }, 'STORAGE_INVALID_OPTIONS'],
          [`s3://${srv.bucket}/p`, { sseKmsKeyId: 'k' }, 'STORAGE_INVALID_OPTIONS'],
          [`s3://${srv.bucket}/p`, { endpoint: 'ftp://x' }, 'STORAGE_INVALID_OPTIONS'],
          [`s3://${srv.bucket}/p`, { credentialsFile: '/nonexistent/creds' }, 'STORAGE_INVALID_OPTIONS'],
        ];
        for (const [url, options, code] of cases) {
          let err: unknown;
          try {
            openStorage(url, { options });
          } catch (e) {
            err = e;
          }
          expect(err, url).toMatchObject({ code });
          expect((err as Error).message).not.toContain('secret@');
        }
        const ok = openStorage(`s3://${srv.bucket}/p?partSize=16MiB&queueSize=2`, { options: { region: 'eu-west-1', forcePathStyle: true } });
        expect(ok.url).toBe(`s3://${srv.bucket}/p?partSize=16MiB&queueSize=2`);
      });
    });

    it(`${name}: every upload through a faulty network completes with the right bytes, and leaves no open upload`, async () => {
      const proxy = await startFaultProxy({
        targetPort: srv.port,
        seed: 20261201,
        resetRate: 0.15,
        delayRate: 0.1,
        corruptRate: 0.3,
        delayMs: 200,
        maxFaults: 25,
      });
      try {
        const prefix = randomUUID();
        const viaProxy = open(prefix, { endpoint: proxy.endpoint, maxAttempts: 10, queueSize: 2 });
        const direct = open(prefix);
        const sizes = [300 * 1024, 5 * MiB + 1, 12 * MiB, 16 * MiB + 12345, 2 * MiB, 11 * MiB];
        for (const [i, size] of sizes.entries()) {
          const data = randomBytes(size);
          const info = await viaProxy.put(`faulty/${i}`, chunked(data), { sha256: sha256(data) });
          expect(info.size).toBe(size);
          expect(sha256(await readAll(await direct.get(`faulty/${i}`)))).toBe(sha256(data));
        }
        expect(proxy.stats.corruptions).toBeGreaterThan(0);
        expect(proxy.stats.resets).toBeGreaterThan(0);
        console.info(`${name}: fault proxy ${JSON.stringify(proxy.stats)}`);
        if (!limits.noUploadListing) expect(await openUploads(srv)).toBe(0);
      } finally {
        await proxy.close();
      }
    }, 180_000);

    it.runIf(s3rverQuirks)(`${name}: control: without contentMd5 this server stores a body corrupted in transit`, async () => {
      // Shows the proxy really damages request bodies and that, on a server that checks no
      // signed payload hash, the ETag check is what keeps corruption from being recorded.
      const proxy = await startFaultProxy({ targetPort: srv.port, seed: 7, resetRate: 0, delayRate: 0, corruptRate: 1, maxFaults: 1 });
      try {
        const prefix = randomUUID();
        const data = randomBytes(6 * MiB);
        const unchecked = open(prefix, { endpoint: proxy.endpoint, contentMd5: false });
        await unchecked.put('x', chunked(data), { sha256: sha256(data) });
        expect(proxy.stats.corruptions).toBe(1);
        expect(sha256(await readAll(await open(prefix).get('x')))).not.toBe(sha256(data));
      } finally {
        await proxy.close();
      }
    });
  });
}

s3Suite(
  's3 (s3rver)',
  () => startS3rver(),
  {
    unorderedListing: 's3rver lists in directory order, not key order (covered on radosgw)',
    nonAtomicReplace: 's3rver writes objects in place (covered on radosgw)',
    noUploadListing: 's3rver does not implement ListMultipartUploads (covered on radosgw)',
  },
  true,
);

const missing = radosgwMissing();
if (missing) {
  console.warn(`\n${'!'.repeat(100)}\n!!! SKIPPING the S3 conformance suite on Ceph radosgw: ${missing}\n${'!'.repeat(100)}\n`);
  describe.skip(`s3 (radosgw): ${missing}`, () => it('skipped', () => undefined));
} else {
  s3Suite('s3 (radosgw)', () => startRadosgw());
}
