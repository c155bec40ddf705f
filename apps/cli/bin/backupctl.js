#!/usr/bin/env node
// backupctl: runs the compiled CLI (plain node, no transpiler; `pnpm build` writes apps/cli/dist).
// From source without a build, for development: `pnpm cli ...` (tsx).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(`backupctl: not built: ${main.pathname} is missing; run \`pnpm build\` in the repository\n`);
  process.exit(1);
}
await import(main.href);
