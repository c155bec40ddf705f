/**
 * One restore with the engine (verify checksum + authentication, decrypt, decompress,
 * integrity_check, write to a new path), as its own process for `/usr/bin/time -v`.
 * Prints one JSON line: { elapsedMs, integrity, targetPath }.
 *
 *   tsx bench/engine/restore-once.ts --storage DIR --key ARTIFACT_KEY --to PATH --tmp DIR [--key-file F]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { restoreBackup } from '@mfb/backup';
import { openStorage } from '@mfb/storage';

const { values } = parseArgs({
  options: {
    storage: { type: 'string' },
    key: { type: 'string' },
    to: { type: 'string' },
    tmp: { type: 'string' },
    'key-file': { type: 'string' },
  },
});
if (!values.storage || !values.key || !values.to || !values.tmp) throw new Error('--storage, --key, --to and --tmp are required');

const keys = new Map<string, Buffer>();
if (values['key-file']) keys.set('bench', Buffer.from(readFileSync(values['key-file'], 'utf8').trim(), 'base64'));
const started = process.hrtime.bigint();
const res = await restoreBackup({
  storage: openStorage(values.storage),
  artifactKey: values.key,
  keys,
  tmpDir: values.tmp,
  targetPath: values.to,
  mode: 'new',
});
const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(JSON.stringify({ elapsedMs, integrity: res.integrity, targetPath: res.targetPath, timings: res.timings }) + '\n');
