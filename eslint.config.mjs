// Lint guards the architecture: no floating promises, type-only imports, and
// layer boundaries (the model and the engine do no I/O and know nothing of the
// adapters; adapters do not import the client).
import tseslint from 'typescript-eslint';

const layer = (files, patterns, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }] },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['*.mjs', 'bin/*.js'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      'no-console': 'error',
    },
  },
  layer(['src/model/**', 'src/engine/**', 'src/codec/**'], ['**/store/**', '**/transport/**', '**/worker/**', '**/coordinator/**', '**/client/**', '**/runtime/**', '**/cli/**', 'node:fs', 'node:fs/*', 'node:net', 'node:http', 'node:https', 'node:child_process', 'node:os', 'pg', 'better-sqlite3', 'rabbitmq-client'], 'model, engine and codec are pure: no I/O, no adapters'),
  layer(['src/store/**', 'src/transport/**'], ['**/client/**', '**/runtime/**', '**/cli/**', '**/coordinator/**', '**/worker/**'], 'adapters depend on ports and the domain only'),
  layer(['src/worker/**', 'src/coordinator/**'], ['**/client/**', '**/runtime/**', '**/cli/**'], 'worker and coordinator do not know the client'),
  { files: ['test/**', 'bench/**', 'examples/**', 'scripts/**', 'src/cli/**'], rules: { 'no-console': 'off', '@typescript-eslint/unbound-method': 'off' } },
);
