import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { openStorage, type StorageDriver } from '@mfb/storage';

const here = dirname(fileURLToPath(import.meta.url));
/** `node --import <tsx loader>`: the tsx CLI wrapper relays SIGTERM and may exit before the child's last line. */
const TSX_LOADER = pathToFileURL(join(here, '../../../node_modules/tsx/dist/loader.mjs')).href;

export interface Sandbox {
  dir: string;
  storageDir: string;
  tmpDir: string;
  storage: StorageDriver;
  cleanup(): Promise<void>;
}

export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-backup-test-'));
  const storageDir = join(dir, 'storage');
  const tmpDir = join(dir, 'tmp');
  return {
    dir,
    storageDir,
    tmpDir,
    storage: openStorage('file://' + storageDir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A small ledger database: `entries` of double-entry transactions (debit + credit sum to
 * zero), with an index and some text, `rows` transactions.
 */
export function makeLedgerDb(path: string, opts: { journal?: 'wal' | 'delete'; txs?: number; userVersion?: number } = {}): void {
  const db = new Database(path);
  db.pragma(`journal_mode = ${opts.journal ?? 'wal'}`);
  db.exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
           CREATE TABLE entries (id INTEGER PRIMARY KEY, tx INTEGER NOT NULL, account INTEGER NOT NULL REFERENCES accounts(id),
                                 amount INTEGER NOT NULL, memo TEXT NOT NULL);
           CREATE INDEX entries_tx ON entries(tx);`);
  const acc = db.prepare('INSERT INTO accounts (id, name) VALUES (?, ?)');
  for (let i = 1; i <= 14; i++) acc.run(i, `account ${i}`);
  const ins = db.prepare('INSERT INTO entries (tx, account, amount, memo) VALUES (?, ?, ?, ?)');
  const txs = opts.txs ?? 5000;
  db.transaction(() => {
    for (let n = 0; n < txs; n++) {
      const a = 1 + ((n * 7919) % 100_000);
      const memo = `payee ${n % 97} groceries rent salary ${'m'.repeat(n % 40)}`;
      ins.run(n, 1 + (n % 7), -a, memo);
      ins.run(n, 8 + (n % 7), a, memo);
    }
  })();
  if (opts.userVersion !== undefined) db.pragma(`user_version = ${opts.userVersion}`);
  db.close();
}

export function ledger(path: string): { sum: number; entries: number; unbalancedTxs: number } {
  const db = new Database(path, { readonly: true, timeout: 30_000 });
  try {
    const { sum, entries } = db.prepare('SELECT coalesce(sum(amount), 0) AS sum, count(*) AS entries FROM entries').get() as { sum: number; entries: number };
    const { unbalanced } = db.prepare('SELECT count(*) AS unbalanced FROM (SELECT tx FROM entries GROUP BY tx HAVING sum(amount) != 0 OR count(*) != 2)').get() as {
      unbalanced: number;
    };
    return { sum, entries, unbalancedTxs: unbalanced };
  } finally {
    db.close();
  }
}

export function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return (db.pragma('integrity_check', { simple: true }) as string) ?? '';
  } finally {
    db.close();
  }
}

export async function startWriter(dbPath: string): Promise<{ child: ChildProcess; stop(): Promise<number> }> {
  const child = spawn(process.execPath, ['--conditions=@mfb/source', '--import', TSX_LOADER, join(here, 'fixtures/ledger-writer.ts'), dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const rl = createInterface({ input: child.stdout! });
  const lines: string[] = [];
  let waiter: ((l: string) => void) | null = null;
  rl.on('line', (l) => (waiter ? (waiter(l), (waiter = null)) : lines.push(l)));
  const next = (): Promise<string> =>
    lines.length
      ? Promise.resolve(lines.shift()!)
      : new Promise((resolve, reject) => {
          waiter = resolve;
          child.once('exit', (code) => reject(new Error(`writer exited ${code}: ${stderr}`)));
        });
  const first = await next();
  if (first !== 'ready') throw new Error(`writer said ${first}: ${stderr}`);
  return {
    child,
    async stop() {
      const line = next();
      child.kill('SIGTERM');
      return (JSON.parse(await line) as { commits: number }).commits;
    },
  };
}

/** Entries of `dir` (non-recursive), [] if it does not exist. */
export async function ls(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

export const KEY_A = Buffer.alloc(32, 0xa1);
export const KEY_B = Buffer.alloc(32, 0xb2);
