/**
 * Continuous writer used by the snapshot benchmark: commits one small double-entry
 * transaction after another until SIGTERM, then prints the number of commits.
 * Usage: tsx writer.ts <db>
 */
import Database from 'better-sqlite3';

const path = process.argv[2];
if (!path) throw new Error('usage: writer.ts <db>');
const db = new Database(path, { timeout: 600_000 });
const ins = db.prepare('INSERT INTO entries (tx, account, amount, memo) VALUES (?, ?, ?, ?)');
let commits = 0;
let stop = false;
process.on('SIGTERM', () => {
  stop = true;
});
const tx = db.transaction((n: number) => {
  const amount = 1 + (n % 997);
  ins.run(n, 1 + (n % 20), amount, 'bench writer ' + n);
  ins.run(n, 21 + (n % 20), -amount, 'bench writer ' + n);
});
function loop(): void {
  const until = Date.now() + 20;
  while (Date.now() < until && !stop) tx(1_000_000_000 + commits++);
  if (stop) {
    process.stdout.write(JSON.stringify({ commits }) + '\n');
    db.close();
    process.exit(0);
  }
  setImmediate(loop);
}
process.stdout.write('ready\n');
loop();
