/**
 * The dependency direction of docs/architecture.md, held by a tool (`pnpm -s deps`, run by
 * ./scripts/test). Workspace imports (`@mfb/x`) resolve through the `@mfb/source` export
 * condition to `packages/x/src`, so every rule is written on repository paths.
 * test/dependency-rules.test.ts runs these rules on a small fixture to prove each can fail.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'app-imports-app',
      comment: 'Apps import packages, never each other (shared code goes into a package).',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'package-imports-app',
      comment: 'Packages never import apps.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'engine-imports-queue',
      comment: 'backup, storage, catalog, retention and notify know no queue: the worker handlers are where they meet @mfb/jobs and BullMQ.',
      severity: 'error',
      from: { path: '^packages/(backup|storage|catalog|retention|notify)/' },
      to: { path: ['^packages/jobs/', 'node_modules/bullmq/'] },
    },
    {
      name: 'storage-imports-backup',
      comment: 'Storage moves bytes and knows no backup format.',
      severity: 'error',
      from: { path: '^packages/storage/' },
      to: { path: '^packages/backup/' },
    },
    {
      name: 'src-imports-testkit',
      comment: '@mfb/testkit is test support: a dev dependency, never imported by src/ (tests beside the code excepted).',
      severity: 'error',
      from: { path: '^(apps|packages)/[^/]+/src/', pathNot: ['^packages/testkit/', '\\.test\\.ts$'] },
      to: { path: '^packages/testkit/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve (a missing dependency or a typo).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Not `exclude` for node_modules: that would drop the edges into it (bullmq) too.
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      conditionNames: ['@mfb/source', 'import', 'require', 'node', 'default'],
      exportsFields: ['exports'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
  },
};
