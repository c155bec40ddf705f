/**
 * Diagnostic: how long `PRAGMA integrity_check` (or `integrity_check(TABLE)` with
 * `--table TABLE`) and the row counts take on a database file with different page-cache / mmap
 * settings (each in a fresh connection, same process); wall and CPU time.
 *
 *   tsx --conditions=@mfb/source bench/restore/probe-check.ts DB [--table T] [variant...]
 */
import Database from 'better-sqlite3';

const args = process.argv.slice(2);
const ti = args.indexOf('--table');
const table = ti >= 0 ? args.splice(ti, 2)[1] : undefined;
const [path, ...wanted] = args;
if (!path) throw new Error('usage: probe-check.ts DB [--table T] [variant...]');
const variants: Record<string, string[]> = {
  default: [],
  cache2m: ['cache_size = -2000'],
  cache8m: ['cache_size = -8000'],
  cache64m: ['cache_size = -65536'],
  cache256m: ['cache_size = -262144'],
  mmap: ['mmap_size = 4294967296'],
  mmapCache64m: ['mmap_size = 4294967296', 'cache_size = -65536'],
};
const t = (f: () => unknown): [number, unknown, number] => {
  const s = process.hrtime.bigint();
  const c = process.cpuUsage();
  const r = f();
  const cpu = process.cpuUsage(c);
  return [Number(process.hrtime.bigint() - s) / 1e9, r, (cpu.user + cpu.system) / 1e6];
};
for (const name of wanted.length ? wanted : Object.keys(variants)) {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  for (const p of variants[name] ?? []) db.pragma(p);
  const [ic, rows, icCpu] = t(() => db.pragma(table ? `integrity_check('${table.replace(/'/g, "''")}')` : 'integrity_check'));
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
  const [cnt] = t(() => names.map(({ name }) => db.prepare(`SELECT count(*) FROM "${name}"`).pluck().get()));
  db.close();
  console.log(`${name}: integrity_check ${ic.toFixed(2)} s wall, ${icCpu.toFixed(2)} s CPU (${JSON.stringify(rows).slice(0, 40)}), counts ${cnt.toFixed(2)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
}
