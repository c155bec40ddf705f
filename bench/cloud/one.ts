/**
 * One measured transfer, run in its own process (under /usr/bin/time -v by run.ts):
 *   tsx bench/cloud/one.ts <ours|sdk> <upload|download> <endpoint> <credentialsFile> <bucket> <key> <file>
 * `ours` goes through @mfb/storage's S3 driver (put with sha256 / get); `sdk` is the plain
 * AWS SDK call (lib-storage Upload / GetObject stream) with the same part size and queue.
 * Prints `{"seconds": n}` (time of the transfer only, without process start).
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { openStorage } from '@mfb/storage';

const [who, op, endpoint, credentialsFile, bucket, key, file] = process.argv.slice(2) as [string, string, string, string, string, string, string];
const PART = 8 << 20;
const QUEUE = 4;

function sdkClient(): S3Client {
  const ini = readFileSync(credentialsFile, 'utf8');
  const get = (k: string): string => new RegExp(`${k}\\s*=\\s*(\\S+)`).exec(ini)![1]!;
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: get('aws_access_key_id'), secretAccessKey: get('aws_secret_access_key') },
    // radosgw 16 does not take the SDK's default CRC32 trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

// The artifact's SHA-256 is known before an upload in real use (it is in the manifest).
const expected = who === 'ours' && op === 'upload' ? await sha256File(file) : undefined;
const t0 = process.hrtime.bigint();
if (who === 'ours') {
  const s = openStorage(`s3://${bucket}`, { options: { endpoint, credentialsFile, partSize: PART, queueSize: QUEUE } });
  if (op === 'upload') await s.put(key, createReadStream(file, { highWaterMark: 1 << 20 }), { sha256: expected! });
  else await pipeline(await s.get(key), createWriteStream('/dev/null'));
} else {
  const client = sdkClient();
  if (op === 'upload') {
    await new Upload({ client, partSize: PART, queueSize: QUEUE, params: { Bucket: bucket, Key: key, Body: createReadStream(file, { highWaterMark: 1 << 20 }) } }).done();
  } else {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await pipeline(res.Body as Readable, createWriteStream('/dev/null'));
  }
}
process.stdout.write(JSON.stringify({ seconds: Number(process.hrtime.bigint() - t0) / 1e9 }) + '\n');
