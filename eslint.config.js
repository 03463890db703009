// ESLint flat config: JS recommended + typescript-eslint recommended, syntax-only (not type-aware,
// so `npm run lint` stays a few seconds). Formatting is Prettier's job (.prettierrc.json).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  globalIgnores(['node_modules/', '.cache/', 'dist/', 'coverage/', 'var/', 'api/console/dist/']),
  {
    files: ['**/*.{ts,mts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: globals.node },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The code sets a default before a try whose catch sets it again (`let x = []; try { x = … }
      // catch { x = [] }`): deliberate, readable, and harmless, so this ESLint 10 rule stays off.
      'no-useless-assignment': 'off',
      // `_name` marks a parameter or binding kept for its position or for documentation.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
]);
