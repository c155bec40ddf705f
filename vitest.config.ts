import { appendFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript source in tests (`@mfb/source` export
// condition); plain `node` (production) gets the compiled `dist/`. See docs/architecture.md.
// The rest is Vite's default list for server code less `module`: externalized dependencies
// are loaded by Node itself, and a `module` entry may be bundler-only ESM (the AWS SDK's
// dist-es imports files without extensions, which Node cannot resolve).
const conditions = ['@mfb/source', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // At least two test files at a time. Vitest's default is one less than the CPU count: ONE
    // on the 2-core CI machine, where most files wait on the processes, servers and emulators
    // they start rather than compute, so a second file overlaps that waiting (measured in
    // docs/testing.md). `--maxWorkers=1` on the command line runs one file at a time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ['test/build-global.ts', 'test/global-setup.ts', 'test/abuse/secrets-global.ts'],
    // Secrets check: every process's output is collected and grepped at the end (test/abuse/).
    setupFiles: ['test/abuse/secrets-collector.ts'],
    onConsoleLog(log) {
      const dir = process.env.MFB_TEST_SECRETS_DIR;
      if (dir) appendFileSync(join(dir, 'console.log'), log);
    },
    reporters: ['default'],
  },
});
