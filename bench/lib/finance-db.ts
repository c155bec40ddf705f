/**
 * Shared finance-database fixtures for benchmarks. The generator itself lives in
 * `@mfb/demo-data` (the CLI's demo uses the same one); this module adds a cache under
 * /work/bench-data (never in the repo) and a command line:
 *
 *   node_modules/.bin/tsx bench/lib/finance-db.ts --size-mib 1024 [--journal delete] [--seed 1] [--out PATH]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateFinanceDb, summarizeFinanceDb, type GenerateResult } from '@mfb/demo-data';

export { generateFinanceDb, summarizeFinanceDb };

/** Default directory for generated databases (outside the repository). */
export const BENCH_DATA_DIR = process.env.MFB_BENCH_DATA ?? '/work/bench-data';

/**
 * Path of a generated finance database of `sizeMiB`, generating it on first use
 * (`finance-<size>m-<journal>-s<seed>.db` in `dir`).
 */
export async function financeDb(
  sizeMiB: number,
  opts: { journalMode?: 'wal' | 'delete'; seed?: number; dir?: string; log?: (msg: string) => void } = {},
): Promise<{ path: string; generated: GenerateResult | null }> {
  const journalMode = opts.journalMode ?? 'wal';
  const seed = opts.seed ?? 1;
  const dir = opts.dir ?? BENCH_DATA_DIR;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `finance-${sizeMiB}m-${journalMode}-s${seed}.db`);
  if (existsSync(path)) return { path, generated: null };
  opts.log?.(`generating ${path} (${sizeMiB} MiB)...`);
  const generated = await generateFinanceDb(path, { sizeBytes: sizeMiB * 1024 * 1024, journalMode, seed });
  opts.log?.(`generated ${path} in ${(generated.elapsedMs / 1000).toFixed(1)} s (${generated.rows.transactions} transactions)`);
  return { path, generated };
}

if (import.meta.url === `file://${process.argv[1] ? resolve(process.argv[1]) : ''}`) {
  const { values } = parseArgs({
    options: {
      'size-mib': { type: 'string', default: '64' },
      journal: { type: 'string', default: 'wal' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
    },
  });
  const sizeMiB = Number(values['size-mib']);
  const journalMode = values.journal === 'delete' ? 'delete' : 'wal';
  const seed = Number(values.seed);
  if (values.out) {
    const r = await generateFinanceDb(values.out, { sizeBytes: sizeMiB * 1024 * 1024, journalMode, seed, overwrite: true });
    console.log(JSON.stringify(r, null, 2));
  } else {
    const r = await financeDb(sizeMiB, { journalMode, seed, log: (m) => console.error(m) });
    console.log(r.path);
  }
}
