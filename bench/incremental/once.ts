/**
 * One engine backup or restore as its own process (so `/usr/bin/time -v` measures its peak
 * RSS). Prints one JSON line.
 *
 *   tsx once.ts backup  --db DB --storage URL --tmp DIR --key-file F [--full] [--no-incremental]
 *   tsx once.ts restore --storage URL --tmp DIR --key-file F --artifact KEY --target PATH
 *   tsx once.ts compact --storage URL --tmp DIR --key-file F --artifact KEY   (a delta -> a new full)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { compactBackup, createBackup, restoreBackup } from '@mfb/backup';
import { openStorage } from '@mfb/storage';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string' },
    storage: { type: 'string' },
    tmp: { type: 'string' },
    'key-file': { type: 'string' },
    full: { type: 'boolean', default: false },
    'no-incremental': { type: 'boolean', default: false },
    artifact: { type: 'string' },
    target: { type: 'string' },
  },
});
const storage = openStorage(values.storage!);
const key = Buffer.from(readFileSync(values['key-file']!, 'utf8').trim(), 'base64');
const t = process.hrtime.bigint();
const ms = (): number => Number(process.hrtime.bigint() - t) / 1e6;
if (positionals[0] === 'backup') {
  const res = await createBackup({
    databaseId: 'bench',
    sourcePath: values.db!,
    storage,
    compression: { algorithm: 'zstd', level: 3 },
    encryption: { keyId: 'bench', key },
    tmpDir: values.tmp!,
    incremental: values['no-incremental'] ? { enabled: false } : { forceFull: values.full, fullEvery: 100, maxChainRatio: 100 },
  });
  process.stdout.write(JSON.stringify({ elapsedMs: ms(), manifest: res.manifest, reason: res.incrementalReason }) + '\n');
} else if (positionals[0] === 'compact') {
  const keys = new Map([['bench', key]]);
  const res = await compactBackup({ storage, artifactKey: values.artifact!, keys, compression: { algorithm: 'zstd', level: 3 }, encryption: { keyId: 'bench', key }, tmpDir: values.tmp! });
  process.stdout.write(JSON.stringify({ elapsedMs: ms(), manifest: res.manifest }) + '\n');
} else {
  const res = await restoreBackup({ storage, artifactKey: values.artifact!, keys: new Map([['bench', key]]), tmpDir: values.tmp!, targetPath: values.target!, mode: 'new' });
  process.stdout.write(JSON.stringify({ elapsedMs: ms(), integrity: res.integrity }) + '\n');
}
