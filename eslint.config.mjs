// Lint: typescript-eslint's recommended rules on the library, tests, sample and benchmarks.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', 'test/packaging/*/node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // Decorator option types default their result type to `any`, as Nest's own do.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      'no-console': 'error',
    },
  },
  {
    // Tests, the sample, benchmarks and fixture apps print to the terminal on purpose.
    files: ['test/**', 'sample/**', 'bench/**', 'stand-in/**', 'scripts/**'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
