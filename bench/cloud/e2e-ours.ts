/**
 * One end-to-end backup as the worker does it, in its own process (peak RSS by /usr/bin/time):
 * snapshot -> zstd-3 -> AES-256-GCM -> SHA-256 into local storage, then the upload of artifact and
 * manifest (manifest last) to an S3 target with the artifact's SHA-256 proven on the way.
 *
 *   tsx --conditions=@mfb/source bench/cloud/e2e-ours.ts <db> <workDir> <endpoint> <credentialsFile> <bucket> <keyFile>
 *
 * Prints one JSON line: { seconds, backupSeconds, uploadSeconds, artifactBytes }.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup, manifestKeyFor } from '@mfb/backup';
import { openStorage } from '@mfb/storage';

const [db, work, endpoint, credentialsFile, bucket, keyFile] = process.argv.slice(2) as [string, string, string, string, string, string];
const local = openStorage(join(work, 'local'));
const target = openStorage(`s3://${bucket}/mfb`, { options: { endpoint, credentialsFile } });
const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');

const t0 = process.hrtime.bigint();
const secs = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e9;
const { manifest } = await createBackup({
  databaseId: 'finance',
  sourcePath: db,
  storage: local,
  compression: { algorithm: 'zstd', level: 3 },
  encryption: { keyId: 'bench', key },
  tmpDir: join(work, 'tmp'),
});
const backupSeconds = secs(t0);
const t1 = process.hrtime.bigint();
const size = manifest.artifact.sizeBytes;
await target.put(manifest.artifactKey, await local.get(manifest.artifactKey), { size, sha256: manifest.artifact.sha256 });
const mkey = manifestKeyFor(manifest.artifactKey);
await target.put(mkey, await local.get(mkey), { contentType: 'application/json' });
process.stdout.write(JSON.stringify({ seconds: secs(t0), backupSeconds, uploadSeconds: secs(t1), artifactBytes: size }) + '\n');
