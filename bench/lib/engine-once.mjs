/**
 * One engine backup or restore as its own process, on the COMPILED engine (`pnpm build` first:
 * `@mfb/backup` resolves to dist/, its worker threads are plain .js), as `backupctl` runs in
 * production. Plain JavaScript so that no TypeScript loader runs in the process or in its
 * worker threads (tsx there costs ~60 MiB of RSS and seconds of CPU that no deployment pays).
 * Prints one JSON line.
 *
 *   node bench/lib/engine-once.mjs backup  --db DB --storage URL --tmp DIR [--key-file F] [--compression zstd --level 3]
 *                                          [--full] [--no-incremental] [--method stream|vacuum-into|backup-api] [--check quick|none]
 *   node bench/lib/engine-once.mjs restore --storage URL --tmp DIR [--key-file F] --artifact KEY --target PATH
 *   node bench/lib/engine-once.mjs compact --storage URL --tmp DIR [--key-file F] --artifact KEY [--compression zstd --level 3]
 *                                          (a delta -> a new full, from storage only)
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import process from 'node:process';
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
    compression: { type: 'string', default: 'zstd' },
    level: { type: 'string' },
    full: { type: 'boolean', default: false },
    'no-incremental': { type: 'boolean', default: false },
    method: { type: 'string' },
    check: { type: 'string' },
    artifact: { type: 'string' },
    target: { type: 'string' },
  },
});
const storage = openStorage(values.storage.includes('://') ? values.storage : 'file://' + values.storage);
const key = values['key-file'] ? Buffer.from(readFileSync(values['key-file'], 'utf8').trim(), 'base64') : null;
const t = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - t) / 1e6;
const compression = { algorithm: values.compression, ...(values.level ? { level: Number(values.level) } : {}) };
const encryption = key ? { encryption: { keyId: 'bench', key } } : {};
if (positionals[0] === 'backup') {
  const res = await createBackup({
    databaseId: 'bench',
    sourcePath: values.db,
    storage,
    compression,
    ...encryption,
    tmpDir: values.tmp,
    ...(values.method ? { snapshotMethod: values.method } : {}),
    ...(values.check ? { sourceCheck: values.check } : {}),
    incremental: values['no-incremental'] ? { enabled: false } : { forceFull: values.full, fullEvery: 100, maxChainRatio: 100 },
  });
  process.stdout.write(JSON.stringify({ elapsedMs: ms(), manifest: res.manifest, reason: res.incrementalReason, snapshot: res.snapshot, timings: res.timings }) + '\n');
} else if (positionals[0] === 'compact') {
  const res = await compactBackup({ storage, artifactKey: values.artifact, keys: new Map(key ? [['bench', key]] : []), compression, ...encryption, tmpDir: values.tmp });
  process.stdout.write(JSON.stringify({ elapsedMs: ms(), manifest: res.manifest }) + '\n');
} else {
  const res = await restoreBackup({ storage, artifactKey: values.artifact, keys: new Map(key ? [['bench', key]] : []), tmpDir: values.tmp, targetPath: values.target, mode: 'new' });
  process.stdout.write(JSON.stringify({ elapsedMs: ms(), integrity: res.integrity }) + '\n');
}
