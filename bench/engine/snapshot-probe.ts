/**
 * Diagnostic: how long each snapshot building block takes on one database (no writer):
 * better-sqlite3 one-step backup API, VACUUM INTO, and PRAGMA quick_check of the copy.
 *   tsx bench/engine/snapshot-probe.ts DB [TMPDIR]
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const db = process.argv[2]!;
const tmp = process.argv[3] ?? '/work/bench-data';
const t = () => Number(process.hrtime.bigint()) / 1e9;
const out = join(tmp, 'probe-snapshot.db');
const rm = () => ['', '-wal', '-shm', '-journal'].forEach((s) => rmSync(out + s, { force: true }));

rm();
const src = new Database(db, { readonly: true });
let s = t();
await src.backup(out, { progress: () => 0x7fffffff });
const backupS = t() - s;
const copy = new Database(out);
s = t();
copy.pragma('quick_check');
const quickS = t() - s;
copy.close();
rm();
s = t();
src.prepare('VACUUM INTO ?').run(out);
const vacuumS = t() - s;
src.close();
rm();
console.log(JSON.stringify({ backupOneStepS: backupS, quickCheckS: quickS, vacuumIntoS: vacuumS }));
