import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', 'coverage/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Only @mfb/config reads process.env.',
        },
      ],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@mfb/*/src/*', '../../packages/*', '../../apps/*'], message: 'Import packages through their entry point.' }] },
      ],
    },
  },
  {
    // Plain JavaScript run by node (the CLI bin, tool configs).
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', module: 'writable', require: 'readonly' } },
  },
  {
    files: ['packages/config/**', '**/test/**', '**/*.test.ts', 'bench/**', 'vitest.config.ts', 'scripts/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
