/**
 * One backup with the engine, as its own process so `/usr/bin/time -v` measures its peak RSS.
 * Prints one JSON line: { elapsedMs, manifest, artifactPath }.
 *
 *   tsx bench/engine/backup-once.ts --db DB --storage DIR --tmp DIR --compression gzip --level 6 [--key-file F]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackup, type CompressionAlgorithm } from '@mfb/backup';
import { openStorage } from '@mfb/storage';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    storage: { type: 'string' },
    tmp: { type: 'string' },
    compression: { type: 'string', default: 'gzip' },
    level: { type: 'string' },
    'key-file': { type: 'string' },
    'database-id': { type: 'string', default: 'bench' },
    'snapshot-method': { type: 'string' },
  },
});
if (!values.db || !values.storage || !values.tmp) throw new Error('--db, --storage and --tmp are required');

const storage = openStorage(values.storage);
const started = process.hrtime.bigint();
const sinceStart = () => Number(process.hrtime.bigint() - started) / 1e9;
/** First and last progress event per stage, in seconds since the start: where the time goes. */
const stages: Record<string, { first: number; last: number }> = {};
const res = await createBackup({
  databaseId: values['database-id']!,
  sourcePath: values.db,
  storage,
  compression: {
    algorithm: values.compression as CompressionAlgorithm,
    ...(values.level ? { level: Number(values.level) } : {}),
  },
  ...(values['key-file'] ? { encryption: { keyId: 'bench', key: Buffer.from(readFileSync(values['key-file'], 'utf8').trim(), 'base64') } } : {}),
  tmpDir: values.tmp,
  ...(values['snapshot-method'] ? { snapshotMethod: values['snapshot-method'] as 'vacuum-into' | 'backup-api' } : {}),
  onProgress: (p) => {
    const t = sinceStart();
    const st = (stages[p.stage] ??= { first: t, last: t });
    st.last = t;
  },
});
const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(
  JSON.stringify({ elapsedMs, stages, manifest: res.manifest, artifactPath: join(values.storage, res.manifest.artifactKey) }) + '\n',
);
