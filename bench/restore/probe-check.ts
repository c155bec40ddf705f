/**
 * Diagnostic: how long `PRAGMA integrity_check` and the row counts take on a database file
 * with different page-cache / mmap settings (each in a fresh connection, same process).
 *
 *   tsx --conditions=@mfb/source bench/restore/probe-check.ts DB [variant...]
 */
import Database from 'better-sqlite3';

const [path, ...wanted] = process.argv.slice(2);
if (!path) throw new Error('usage: probe-check.ts DB [variant...]');
const variants: Record<string, string[]> = {
  default: [],
  cache64m: ['cache_size = -65536'],
  cache256m: ['cache_size = -262144'],
  mmap: ['mmap_size = 4294967296'],
  mmapCache64m: ['mmap_size = 4294967296', 'cache_size = -65536'],
};
const t = (f: () => unknown): [number, unknown] => {
  const s = process.hrtime.bigint();
  const r = f();
  return [Number(process.hrtime.bigint() - s) / 1e9, r];
};
for (const name of wanted.length ? wanted : Object.keys(variants)) {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  for (const p of variants[name] ?? []) db.pragma(p);
  const [ic, rows] = t(() => db.pragma('integrity_check'));
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
  const [cnt] = t(() => names.map(({ name }) => db.prepare(`SELECT count(*) FROM "${name}"`).pluck().get()));
  db.close();
  console.log(`${name}: integrity_check ${ic.toFixed(2)} s (${JSON.stringify(rows).slice(0, 40)}), counts ${cnt.toFixed(2)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
}
