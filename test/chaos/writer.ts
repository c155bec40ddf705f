/**
 * Chaos writer: the dashboard's part in the chaos suite. Inserts balanced transfers (two
 * `chaos_ledger` rows, +x and -x, in one transaction) into every database given, round-robin,
 * until killed. Ledger invariant: in any consistent snapshot, SUM(amount_cents) = 0.
 *
 * Usage: node --import tsx test/chaos/writer.ts <intervalMs> <db>...
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

const [intervalArg, ...paths] = process.argv.slice(2);
const intervalMs = Number(intervalArg ?? 20);
const dbs = paths.map((p) => {
  const db = new Database(p);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const insert = db.prepare('INSERT INTO chaos_ledger (transfer_id, account, amount_cents) VALUES (?, ?, ?)');
  const transfer = db.transaction((id: number, amount: number) => {
    insert.run(id, 'from', -amount);
    insert.run(id, 'to', amount);
  });
  return { transfer, next: (db.prepare('SELECT COALESCE(MAX(transfer_id), 0) AS m FROM chaos_ledger').get() as { m: number }).m + 1 };
});

let stop = false;
process.on('SIGTERM', () => (stop = true));
let n = 0;
while (!stop) {
  for (const d of dbs) {
    try {
      d.transfer(d.next, 1 + Math.floor(Math.random() * 100_000));
      d.next++;
      n++;
    } catch (err) {
      // Busy past the timeout (a restore holds the file): try again next turn.
      process.stderr.write(`writer: ${(err as Error).message}\n`);
    }
  }
  await sleep(intervalMs);
}
process.stdout.write(JSON.stringify({ transfers: n }) + '\n');
