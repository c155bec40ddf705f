/**
 * Opening gs:// and azblob:// targets must not load their SDKs (a CLI that only touches
 * file:// pays nothing for them): a child process records every module it resolves.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

it('importing @mfb/storage and opening gs:// and azblob:// targets loads no cloud SDK', () => {
  const out = execFileSync(path.join(repoRoot, 'node_modules/.bin/tsx'), [path.join(here, 'fixtures/lazy-sdk.fixture.ts')], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { total: number; sdk: string[] };
  expect(r.total).toBeGreaterThan(5); // the hook saw the modules that were loaded
  expect(r.sdk).toEqual([]);
});
