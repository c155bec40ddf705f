/**
 * Every workspace package follows the build scheme of docs/architecture.md ("Build and package
 * exports"), so a package added on another branch either follows it or fails here with the
 * exact fix, instead of building in one place and not in another.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => JSON.parse(readFileSync(join(repo, path), 'utf8')) as Record<string, unknown>;

const workspaces = ['packages', 'apps'].flatMap((kind) =>
  readdirSync(join(repo, kind), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ kind, dir: `${kind}/${d.name}` })),
);
const dirOf = new Map(workspaces.map((w) => [read(`${w.dir}/package.json`).name as string, w.dir]));

describe.each(workspaces)('$dir', ({ kind, dir }) => {
  const pkg = read(`${dir}/package.json`);
  const tsconfigPath = `${dir}/tsconfig.build.json`;
  const tsconfig = existsSync(join(repo, tsconfigPath)) ? read(tsconfigPath) : {};

  it('has a tsconfig.build.json extending the shared build config', () => {
    expect(existsSync(join(repo, tsconfigPath)), `${tsconfigPath} is missing`).toBe(true);
    expect(tsconfig.extends).toBe(kind === 'apps' ? '../../tsconfig.build.app.json' : '../../tsconfig.build.base.json');
  });

  it('references exactly the workspace packages it depends on (so `tsc -b` builds them first)', () => {
    const deps = Object.entries((pkg.dependencies ?? {}) as Record<string, string>)
      .filter(([, version]) => version.startsWith('workspace:'))
      .map(([name]) => `${dirOf.get(name)}/tsconfig.build.json`)
      .sort();
    const refs = ((tsconfig.references ?? []) as Array<{ path: string }>).map((r) => relative(repo, resolve(repo, dir, r.path))).sort();
    expect(refs).toEqual(deps);
  });

  if (kind === 'packages') {
    it('exports its source under @mfb/source and its compiled code (with types) otherwise', () => {
      expect(pkg.exports).toEqual({ '.': { '@mfb/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' } });
    });
  }
});
