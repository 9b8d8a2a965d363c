// Lint rules that keep the architecture honest:
// - shared/ uses neither DOM nor Node APIs and imports neither client/ nor relay/;
// - client/ and relay/ import shared/, never each other;
// - no floating promises, no `.only`, zero warnings (npm run lint passes --max-warnings 0).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { dirname, join, relative, sep } from 'node:path';

/** Node built-ins and Node-only packages, matched against the whole import specifier. */
const nodeBuiltins =
  '^(node:.*|fs|fs/.*|path|os|http|https|net|child_process|crypto|url|events|stream|worker_threads|util|zlib|ws|better-sqlite3)$';

/**
 * client/ and relay/ never import the top-level lab/ (the lab drives them, not the other way).
 * Relative paths are resolved first: a path pattern on "lab" would also match client/lab and shared/lab.
 */
/** @type {import('eslint').Rule.RuleModule} */
const noLabImport = {
  meta: {
    type: 'problem',
    schema: [],
    messages: { lab: 'client/ and relay/ never import lab/ (the lab drives them).' },
  },
  create(context) {
    /** @param {import('estree').Node & { source?: { value?: unknown } | null }} node */
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = relative(import.meta.dirname, join(dirname(context.filename), spec));
      if (target === 'lab' || target.startsWith(`lab${sep}`)) context.report({ node, messageId: 'lab' });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', 'test-results/**', 'playwright-report/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'e2e/*.mjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only', message: 'No .only in committed tests.' },
        { object: 'it', property: 'only', message: 'No .only in committed tests.' },
        { object: 'test', property: 'only', message: 'No .only in committed tests.' },
      ],
    },
  },
  {
    files: ['shared/**/*.ts'],
    ignores: ['shared/**/*.test.ts', 'shared/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: nodeBuiltins, message: 'shared/ must not use Node APIs.' },
            { group: ['**/client/**', '**/relay/**'], message: 'shared/ must not import client/ or relay/.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        'window',
        'document',
        'navigator',
        'localStorage',
        'indexedDB',
        'process',
        'Buffer',
        'require',
        '__dirname',
      ],
    },
  },
  {
    files: ['relay/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/client/**'], message: 'relay/ imports shared/, never client/.' }] },
      ],
    },
  },
  {
    files: ['client/**/*.{ts,tsx}', 'relay/**/*.ts'],
    plugins: { local: { rules: { 'no-lab-import': noLabImport } } },
    rules: { 'local/no-lab-import': 'error' },
  },
  {
    // The experiment runner drives real clients and the real relay process; of relay/ only its test harness.
    files: ['lab/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '/relay/(?!testing/relayProcess\\.js$)',
              message: 'lab/ may import relay/testing/relayProcess.js only.',
            },
          ],
        },
      ],
    },
  },
  {
    // The relay is doc-less: it works on update bytes, never on a Y.Doc (tests may use docs as clients).
    files: ['relay/**/*.ts'],
    ignores: ['relay/**/*.test.ts', 'relay/testing/**', 'relay/integration/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.property.name='Doc']", message: 'No Y.Doc in the relay: it is doc-less.' },
        { selector: "ImportSpecifier[imported.name='Doc']", message: 'No Y.Doc in the relay: it is doc-less.' },
        {
          selector: "MemberExpression[object.name='Y'][property.name=/^(applyUpdate|encodeStateAsUpdate|Doc)$/]",
          message: 'No Y.Doc APIs in the relay: use the doc-less update functions.',
        },
      ],
    },
  },
  {
    files: ['client/**/*.ts', 'client/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/relay/**'], message: 'client/ imports shared/, never relay/.' }] },
      ],
    },
  },
  {
    // The app runs in browsers: no Node APIs outside its tests.
    files: ['client/**/*.ts', 'client/**/*.tsx'],
    ignores: ['client/**/*.test.ts', 'client/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/relay/**'], message: 'client/ imports shared/, never relay/.' },
            { regex: nodeBuiltins, message: 'client/ runs in browsers: no Node APIs.' },
          ],
        },
      ],
    },
  },
  {
    // Client tests (and their harness in client/testing) may start real relay processes
    // (relay/testing/relayProcess, or several on one Redis with relay/testing/scaleOut), nothing else from relay/.
    files: ['client/**/*.test.ts', 'client/testing/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '/relay/(?!testing/(relayProcess|scaleOut)\\.js$)',
              message: 'client tests may import relay/testing/relayProcess.js and relay/testing/scaleOut.js only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
