import { chmodSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ACCOUNT_SEEDS, CATEGORIES, CITIES, INSTITUTIONS, MONTHS, PAYEES, TAGS, USER_MEMOS, type PayeeSeed } from './words.js';

export interface GenerateOptions {
  /** Target file size; generation stops at the first batch that reaches it (overshoot < 1%). */
  sizeBytes: number;
  /** Journal mode the finished file is left in. Default `wal`. */
  journalMode?: 'wal' | 'delete';
  /** Same seed + same size = same database content. Default 1. */
  seed?: number;
  /** Replace an existing file at `path`. Default false (rejects if it exists). */
  overwrite?: boolean;
  /** Called after every batch with the current size of the database. */
  onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  path: string;
  sizeBytes: number;
  pageSize: number;
  pageCount: number;
  journalMode: 'wal' | 'delete';
  rows: Record<string, number>;
  elapsedMs: number;
}

/** SQLite `user_version` of the generated schema (the dashboard's schema version). */
export const FINANCE_SCHEMA_VERSION = 12;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE institutions (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bic TEXT NOT NULL);
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('checking','savings','credit_card','cash','brokerage','loan')),
  currency TEXT NOT NULL DEFAULT 'EUR',
  institution_id INTEGER REFERENCES institutions(id),
  iban TEXT,
  card_last4 TEXT,
  opened_on TEXT NOT NULL,
  closed_on TEXT,
  opening_balance_cents INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE categories (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES categories(id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('income','expense','transfer')),
  UNIQUE (parent_id, name)
);
CREATE TABLE payees (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  default_category_id INTEGER REFERENCES categories(id),
  city TEXT,
  mandate_ref TEXT
);
CREATE TABLE transactions (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  booked_on TEXT NOT NULL,
  value_on TEXT NOT NULL,
  amount_cents INTEGER NOT NULL,
  payee_id INTEGER REFERENCES payees(id),
  category_id INTEGER REFERENCES categories(id),
  memo TEXT,
  booking_text TEXT,
  status TEXT NOT NULL DEFAULT 'cleared' CHECK (status IN ('pending','cleared','reconciled')),
  import_ref TEXT,
  transfer_id INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE splits (
  id INTEGER PRIMARY KEY,
  transaction_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
  category_id INTEGER NOT NULL REFERENCES categories(id),
  amount_cents INTEGER NOT NULL,
  memo TEXT
);
CREATE TABLE budgets (
  id INTEGER PRIMARY KEY,
  month TEXT NOT NULL,
  category_id INTEGER NOT NULL REFERENCES categories(id),
  amount_cents INTEGER NOT NULL,
  rollover INTEGER NOT NULL DEFAULT 0,
  UNIQUE (month, category_id)
);
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE transaction_tags (
  transaction_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
  tag_id INTEGER NOT NULL REFERENCES tags(id),
  PRIMARY KEY (transaction_id, tag_id)
) WITHOUT ROWID;
`;

const INDEXES = `
CREATE INDEX tx_account_date ON transactions(account_id, booked_on);
CREATE INDEX tx_payee ON transactions(payee_id);
CREATE INDEX tx_category_date ON transactions(category_id, booked_on);
CREATE UNIQUE INDEX tx_import_ref ON transactions(account_id, import_ref) WHERE import_ref IS NOT NULL;
CREATE INDEX splits_tx ON splits(transaction_id);
CREATE INDEX budgets_category ON budgets(category_id);
`;

/** Approximate bytes one transaction costs on disk (row + index entries + splits/tags share). */
const BYTES_PER_TX = 260;

/** mulberry32: tiny, fast, deterministic; numbers in [0, 1) from a 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const DAY_MS = 86_400_000;

/**
 * Generate a realistic personal-finance SQLite database of about `sizeBytes`: institutions,
 * accounts, a two-level category tree, payees, transactions with booking texts and memos the
 * way bank imports and people write them, transfers as linked pairs, split transactions,
 * tags, and monthly budgets; the dashboard's indexes; left in WAL (default) or rollback
 * journal mode. Writes to `<path>.generating` and renames at the end, so an interrupted run
 * leaves nothing at `path`.
 */
export async function generateFinanceDb(path: string, opts: GenerateOptions): Promise<GenerateResult> {
  const started = Date.now();
  const journalMode = opts.journalMode ?? 'wal';
  const rand = prng(opts.seed ?? 1);
  if (!(opts.sizeBytes > 0)) throw new RangeError('sizeBytes must be > 0');
  if (existsSync(path) && !opts.overwrite) throw new Error(`generate finance db: ${path} already exists`);
  const tmp = `${path}.generating`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) rmSync(f, { force: true });

  const db = new Database(tmp);
  try {
    // Bulk-load settings: no journal, no fsync, one big transaction per batch.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = MEMORY');
    db.exec(SCHEMA);
    db.exec(INDEXES);

    const pick = <T>(arr: readonly T[]): T => arr[Math.floor(rand() * arr.length)] as T;
    const expectedTx = Math.max(1000, Math.floor(opts.sizeBytes / BYTES_PER_TX));

    // --- reference data -------------------------------------------------------------------
    const insInst = db.prepare('INSERT INTO institutions (name, bic) VALUES (?, ?)');
    for (const i of INSTITUTIONS) insInst.run(i.name, i.bic);

    const catIds = new Map<string, number>();
    const catKind = new Map<number, string>();
    const insCat = db.prepare('INSERT INTO categories (parent_id, name, kind) VALUES (?, ?, ?)');
    for (const c of CATEGORIES) {
      const parent = Number(insCat.run(null, c.name, c.kind).lastInsertRowid);
      for (const child of c.children) {
        const id = Number(insCat.run(parent, child, c.kind).lastInsertRowid);
        catIds.set(child, id);
        catKind.set(id, c.kind);
      }
    }
    const expenseCats = [...catKind.entries()].filter(([, k]) => k === 'expense').map(([id]) => id);

    // Many households' worth of history in the big sizes: more accounts as the file grows.
    const accountCount = Math.min(400, 6 + Math.floor(expectedTx / 150_000));
    const startMs = Date.UTC(2004, 0, 1);
    const endMs = Date.UTC(2026, 10, 1);
    interface Acct { id: number; name: string; last4: string; iban: string }
    const accounts: Acct[] = [];
    const insAcct = db.prepare(
      'INSERT INTO accounts (name, type, currency, institution_id, iban, card_last4, opened_on, opening_balance_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (let i = 0; i < accountCount; i++) {
      const seed = ACCOUNT_SEEDS[i % ACCOUNT_SEEDS.length]!;
      const name = i < ACCOUNT_SEEDS.length ? seed.name : `${seed.name} ${Math.floor(i / ACCOUNT_SEEDS.length) + 1}`;
      const iban = `DE${pad(10 + Math.floor(rand() * 89), 2)}${pad(Math.floor(rand() * 1e8), 8)}${pad(Math.floor(rand() * 1e10), 10)}`;
      const last4 = pad(Math.floor(rand() * 10000), 4);
      const id = Number(
        insAcct.run(name, seed.type, i % 17 === 16 ? 'USD' : 'EUR', 1 + (i % INSTITUTIONS.length), iban, last4, isoDay(startMs), Math.round(rand() * 500_000))
          .lastInsertRowid,
      );
      accounts.push({ id, name, last4, iban });
    }

    // Payees: chains appear in several cities, as they do in bank exports.
    interface Payee { id: number; seed: PayeeSeed; city: string; mandate: string; categoryId: number }
    const payees: Payee[] = [];
    const insPayee = db.prepare('INSERT INTO payees (name, default_category_id, city, mandate_ref) VALUES (?, ?, ?, ?)');
    const cityVariants = Math.min(CITIES.length, 2 + Math.floor(expectedTx / 400_000));
    for (const seed of PAYEES) {
      const variants = seed.channel === 'card' || seed.channel === 'cash' ? cityVariants : 1;
      for (let v = 0; v < variants; v++) {
        const city = CITIES[(v * 5 + seed.name.length) % CITIES.length]!;
        const name = variants > 1 ? `${seed.name} ${city.charAt(0) + city.slice(1).toLowerCase()}` : seed.name;
        const mandate = `M${pad(Math.floor(rand() * 1e9), 9)}`;
        const categoryId = catIds.get(seed.category)!;
        const id = Number(insPayee.run(name, categoryId, city, seed.channel === 'debit' ? mandate : null).lastInsertRowid);
        payees.push({ id, seed, city, mandate, categoryId });
      }
    }
    const spending = payees.filter((p) => p.seed.channel !== 'income');
    const income = payees.filter((p) => p.seed.channel === 'income');
    const insTag = db.prepare('INSERT INTO tags (name) VALUES (?)');
    for (const t of TAGS) insTag.run(t);

    const insMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    insMeta.run('app', 'MyFinance Dashboard');
    insMeta.run('schema_version', String(FINANCE_SCHEMA_VERSION));
    insMeta.run('generator', `@mfb/demo-data seed=${opts.seed ?? 1}`);
    insMeta.run('default_currency', 'EUR');

    // --- transactions -----------------------------------------------------------------------
    const insTx = db.prepare(
      `INSERT INTO transactions (account_id, booked_on, value_on, amount_cents, payee_id, category_id, memo, booking_text, status, import_ref, transfer_id, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insSplit = db.prepare('INSERT INTO splits (transaction_id, category_id, amount_cents, memo) VALUES (?, ?, ?, ?)');
    const linkTransfer = db.prepare('UPDATE transactions SET transfer_id = ? WHERE id = ?');
    const insTxTag = db.prepare('INSERT OR IGNORE INTO transaction_tags (transaction_id, tag_id) VALUES (?, ?)');
    const insBudget = db.prepare('INSERT INTO budgets (month, category_id, amount_cents, rollover) VALUES (?, ?, ?, ?)');
    const budgetBase = new Map<number, number>(expenseCats.map((id) => [id, (5 + Math.floor(rand() * 60)) * 1000]));

    const rows = { transactions: 0, splits: 0, transaction_tags: 0, budgets: 0 };
    const msPerTx = Math.max(1, (endMs - startMs) / expectedTx);
    const batchSize = Math.max(200, Math.min(20_000, Math.floor(expectedTx / 60)));
    const importSeq = new Map<number, number>();
    let lastMonth = '';
    let txIndex = 0;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const sizeNow = () => (db.pragma('page_count', { simple: true }) as number) * pageSize;

    const amountFor = (typical: number): number => {
      // Log-normal-ish spread around the typical amount, rounded to cents (fixed amounts for subscriptions).
      if (Math.abs(typical) < 50 && rand() < 0.3) return Math.round(typical * 100);
      const factor = Math.exp((rand() - 0.5) * 1.2);
      return Math.round(typical * factor * 100);
    };

    const insertOne = (accountIdx: number, ms: number): void => {
      const acct = accounts[accountIdx]!;
      const day = isoDay(ms);
      const valueDay = rand() < 0.8 ? day : isoDay(ms + DAY_MS * (1 + Math.floor(rand() * 3)));
      const month = day.slice(0, 7);
      const seq = (importSeq.get(acct.id) ?? 0) + 1;
      importSeq.set(acct.id, seq);
      const importRef = rand() < 0.92 ? `${day.replaceAll('-', '')}${pad(acct.id, 4)}${pad(seq, 8)}` : null;
      const status = ms > endMs - 20 * DAY_MS && rand() < 0.5 ? 'pending' : rand() < 0.7 ? 'reconciled' : 'cleared';
      const created = `${valueDay}T${pad(6 + Math.floor(rand() * 16), 2)}:${pad(Math.floor(rand() * 60), 2)}:${pad(Math.floor(rand() * 60), 2)}Z`;
      const r = rand();

      if (r < 0.03 && accounts.length > 1) {
        // Transfer: two linked rows that sum to zero.
        const other = accounts[(accountIdx + 1 + Math.floor(rand() * (accounts.length - 1))) % accounts.length]!;
        const amount = Math.round((50 + rand() * 950)) * 100;
        const cat = catIds.get(rand() < 0.5 ? 'Between accounts' : 'Savings')!;
        const text = `Transfer to ${other.name} ${other.iban}`;
        const out = Number(insTx.run(acct.id, day, valueDay, -amount, null, cat, rand() < 0.3 ? pick(USER_MEMOS) : null, text, status, importRef, null, created, created).lastInsertRowid);
        const inn = Number(insTx.run(other.id, day, valueDay, amount, null, cat, null, `Transfer from ${acct.name} ${acct.iban}`, status, null, out, created, created).lastInsertRowid);
        linkTransfer.run(inn, out);
        rows.transactions += 2;
        return;
      }

      const payee = r < 0.06 ? pick(income) : pick(spending);
      const amount = amountFor(payee.seed.typical);
      const dd = day.slice(8, 10) + '.' + day.slice(5, 7);
      let text: string;
      switch (payee.seed.channel) {
        case 'card':
          text = `Card payment ${payee.seed.name.toUpperCase()} ${payee.city} ${dd} card ****${acct.last4}`;
          break;
        case 'debit':
          text = `SEPA direct debit ${payee.seed.name} mandate ${payee.mandate} ref ${month.replace('-', '')}-${pad(seq % 1000, 3)}`;
          break;
        case 'transfer':
          text = `SEPA transfer ${payee.seed.name} invoice ${day.slice(0, 4)}-${pad(seq % 10000, 4)}`;
          break;
        case 'online':
          text = `${payee.seed.name.toUpperCase()} online order ${pad(Math.floor(rand() * 1e6), 6)}`;
          break;
        case 'cash':
          text = `Cash ${payee.seed.name} ${payee.city} ${dd}`;
          break;
        case 'income':
          text = payee.seed.category === 'Salary'
            ? `Salary ${MONTHS[Number(day.slice(5, 7)) - 1]} ${day.slice(0, 4)} ${payee.seed.name}`
            : `Credit ${payee.seed.name} ${dd}`;
          break;
      }
      const m = rand();
      const memo = m < 0.35 ? null : m < 0.75 ? pick(USER_MEMOS) : m < 0.9 ? `${pick(USER_MEMOS)}, ${pick(USER_MEMOS)}` : `${payee.seed.category.toLowerCase()} ${MONTHS[Number(day.slice(5, 7)) - 1]}`;
      const isSplit = amount < 0 && rand() < 0.05;
      const id = Number(
        insTx.run(acct.id, day, valueDay, amount, payee.id, isSplit ? null : payee.categoryId, memo, text, status, importRef, null, created, created).lastInsertRowid,
      );
      rows.transactions++;
      if (isSplit) {
        const parts = 2 + Math.floor(rand() * 2);
        let left = amount;
        for (let p = 0; p < parts; p++) {
          const share = p === parts - 1 ? left : Math.round((amount / parts) * (0.6 + rand() * 0.8));
          left -= share;
          insSplit.run(id, p === 0 ? payee.categoryId : pick(expenseCats), share, rand() < 0.5 ? pick(USER_MEMOS) : null);
          rows.splits++;
        }
      }
      if (rand() < 0.08) {
        insTxTag.run(id, 1 + Math.floor(rand() * TAGS.length));
        rows.transaction_tags++;
      }
    };

    const insertBatch = db.transaction((count: number) => {
      for (let i = 0; i < count; i++) {
        const ms = startMs + Math.floor(txIndex * msPerTx);
        const month = isoDay(ms).slice(0, 7);
        if (month !== lastMonth) {
          lastMonth = month;
          for (const cat of expenseCats) {
            insBudget.run(month, cat, Math.round(budgetBase.get(cat)! * (0.9 + rand() * 0.2)), rand() < 0.2 ? 1 : 0);
            rows.budgets++;
          }
        }
        insertOne(Math.floor(rand() * accounts.length), ms);
        txIndex++;
      }
    });

    let size = sizeNow();
    while (size < opts.sizeBytes) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      insertBatch(batchSize);
      size = sizeNow();
      opts.onProgress?.({ bytesDone: Math.min(size, opts.sizeBytes), bytesTotal: opts.sizeBytes });
      // Let timers (progress rendering, abort) run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }

    db.pragma('analysis_limit = 1000');
    db.exec('ANALYZE');
    db.pragma(`user_version = ${FINANCE_SCHEMA_VERSION}`);
    db.pragma('locking_mode = NORMAL');
    // WAL is recorded in the file header, so the database stays in WAL mode for every later opener.
    db.pragma(`journal_mode = ${journalMode === 'wal' ? 'WAL' : 'DELETE'}`);
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    db.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(f, { force: true });
    renameSync(tmp, path);
    // Personal finances: private to the owner, like everything else this project writes.
    chmodSync(path, 0o600);
    return {
      path,
      sizeBytes: statSync(path).size,
      pageSize,
      pageCount,
      journalMode,
      rows: { ...rows, accounts: accounts.length, payees: payees.length, categories: catIds.size + CATEGORIES.length },
      elapsedMs: Date.now() - started,
    };
  } catch (err) {
    if (db.open) db.close();
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) rmSync(f, { force: true });
    throw err;
  }
}

export interface FinanceSummary {
  /** Rows per table. */
  tables: Record<string, number>;
  /** Sum of all transaction amounts (transfers cancel out). */
  totalCents: number;
  /** Sum over transfer pairs; always 0 in a consistent database. */
  transferBalanceCents: number;
  userVersion: number;
}

/** Row counts and ledger sums; two databases with the same summary hold the same data for tests. */
export function summarizeFinanceDb(path: string): FinanceSummary {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables: Record<string, number> = {};
    const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>;
    for (const { name } of names) tables[name] = (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
    const total = (db.prepare('SELECT coalesce(sum(amount_cents), 0) AS s FROM transactions').get() as { s: number }).s;
    const transfers = (
      db.prepare('SELECT coalesce(sum(amount_cents), 0) AS s FROM transactions WHERE transfer_id IS NOT NULL OR id IN (SELECT transfer_id FROM transactions WHERE transfer_id IS NOT NULL)').get() as { s: number }
    ).s;
    return { tables, totalCents: total, transferBalanceCents: transfers, userVersion: db.pragma('user_version', { simple: true }) as number };
  } finally {
    db.close();
  }
}
