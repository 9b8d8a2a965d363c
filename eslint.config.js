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

/** A path segment in an import specifier (`../client/ui/router.js`, `client/x`), any case. */
const segment = (name) => `(^|/)${name}(/|$)`;

/**
 * The import boundaries: `no-restricted-imports` for `import`/`export … from`, and the same patterns
 * for what it does not see, `import('…')` expressions and `import('…')` types. Patterns are
 * `{ regex, message }`, the regex matched against the specifier, case-insensitively as
 * `no-restricted-imports` does. A later config object for the same files replaces both, as before.
 * @param {...{ regex: string, message: string }} patterns
 */
const restrictImports = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
  'local/no-restricted-dynamic-imports': ['error', { patterns }],
});

/** The string an import's specifier node spells statically, else null (`import(name)`, `import(`./${x}`)`). */
const staticSpecifier = (/** @type {import('estree').Node | null | undefined} */ node) => {
  if (node?.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node?.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0]?.value.cooked ?? null;
  return null;
};

/** @typedef {{ source?: import('estree').Node | null, argument?: { literal?: import('estree').Node } }} WithSource */

/**
 * `no-restricted-imports`' patterns applied to `import('…')` expressions and `import('…')` types,
 * which it ignores. A computed specifier cannot be checked against them, so it is an error too.
 * @type {import('eslint').Rule.RuleModule}
 */
const noRestrictedDynamicImports = {
  meta: {
    type: 'problem',
    schema: [
      {
        type: 'object',
        properties: {
          patterns: {
            type: 'array',
            items: {
              type: 'object',
              properties: { regex: { type: 'string' }, message: { type: 'string' } },
              required: ['regex', 'message'],
              additionalProperties: false,
            },
          },
        },
        required: ['patterns'],
        additionalProperties: false,
      },
    ],
    messages: {
      restricted: "'{{spec}}' import is restricted from being used by a pattern. {{message}}",
      computed: 'A computed import() specifier cannot be checked against the import boundaries: spell it out.',
    },
  },
  create(context) {
    /** @type {unknown} */
    const raw = context.options[0]; // checked against meta.schema
    const options = /** @type {{ patterns: { regex: string, message: string }[] } | undefined} */ (raw);
    const matchers = (options?.patterns ?? []).map(({ regex, message }) => ({ re: new RegExp(regex, 'iu'), message }));
    /** @param {import('estree').Node} node @param {import('estree').Node | null | undefined} source */
    const check = (node, source) => {
      const spec = staticSpecifier(source);
      if (spec === null) {
        if (matchers.length > 0) context.report({ node, messageId: 'computed' });
        return;
      }
      const hit = matchers.find(({ re }) => re.test(spec));
      if (hit) context.report({ node, messageId: 'restricted', data: { spec, message: hit.message } });
    };
    return {
      ImportExpression: (node) => check(node, node.source),
      // `type T = import('../client/x.js').T` (typescript-eslint: `source`; formerly `argument.literal`).
      /** @param {import('estree').Node & WithSource} node */
      TSImportType: (node) => check(node, node.source ?? node.argument?.literal),
    };
  },
};

/**
 * client/ and relay/ never import the top-level lab/ (the lab drives them, not the other way),
 * statically or with `import()`. Relative paths are resolved first: a path pattern on "lab" would
 * also match client/lab and shared/lab.
 * @type {import('eslint').Rule.RuleModule}
 */
const noLabImport = {
  meta: {
    type: 'problem',
    schema: [],
    messages: { lab: 'client/ and relay/ never import lab/ (the lab drives them).' },
  },
  create(context) {
    /** @param {import('estree').Node} node @param {import('estree').Node | null | undefined} source */
    const check = (node, source) => {
      const spec = staticSpecifier(source);
      if (spec === null || !spec.startsWith('.')) return;
      const target = relative(import.meta.dirname, join(dirname(context.filename), spec));
      if (target === 'lab' || target.startsWith(`lab${sep}`)) context.report({ node, messageId: 'lab' });
    };
    /** @param {import('estree').Node & WithSource} node */
    const bySource = (node) => check(node, node.source);
    return {
      ImportDeclaration: bySource,
      ExportNamedDeclaration: bySource,
      ExportAllDeclaration: bySource,
      ImportExpression: bySource,
      /** @param {import('estree').Node & WithSource} node */
      TSImportType: (node) => check(node, node.source ?? node.argument?.literal),
    };
  },
};

/**
 * Globals shared/ must not use: it runs in the browser app and in the relay and uses no platform
 * API (what it needs, such as a random source, is passed in). The global object itself is banned
 * under all its names, so `globalThis.document` or `global.process` cannot get round the list.
 * Today shared/ (tests and shared/testing aside) uses ECMAScript built-ins only; timers,
 * TextEncoder and the like exist in both hosts and are not banned.
 */
const sharedBannedGlobals = [
  ...['globalThis', 'global', 'self', 'window'].map((name) => ({
    name,
    message: 'shared/ must not reach the global object: it uses neither DOM nor Node APIs.',
  })),
  ...[
    'document',
    'navigator',
    'location',
    'localStorage',
    'sessionStorage',
    'indexedDB',
    'requestAnimationFrame',
    'cancelAnimationFrame',
    'Worker',
  ].map((name) => ({ name, message: 'shared/ must not use browser APIs.' })),
  ...['process', 'Buffer', 'require', '__dirname', '__filename', 'setImmediate', 'clearImmediate'].map((name) => ({
    name,
    message: 'shared/ must not use Node APIs.',
  })),
  { name: 'fetch', message: 'shared/ does no I/O: the caller fetches and passes the result in.' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', 'test-results/**', 'playwright-report/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    plugins: {
      local: { rules: { 'no-restricted-dynamic-imports': noRestrictedDynamicImports, 'no-lab-import': noLabImport } },
    },
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
      ...restrictImports(
        { regex: nodeBuiltins, message: 'shared/ must not use Node APIs.' },
        { regex: segment('(client|relay)'), message: 'shared/ must not import client/ or relay/.' },
      ),
      'no-restricted-globals': ['error', ...sharedBannedGlobals],
    },
  },
  {
    files: ['relay/**/*.ts'],
    rules: restrictImports({ regex: segment('client'), message: 'relay/ imports shared/, never client/.' }),
  },
  {
    files: ['client/**/*.{ts,tsx}', 'relay/**/*.ts'],
    rules: { 'local/no-lab-import': 'error' },
  },
  {
    // The experiment runner drives real clients and the real relay process; of relay/ only its test harness.
    files: ['lab/**/*.ts'],
    rules: restrictImports({
      regex: '/relay/(?!testing/relayProcess\\.js$)',
      message: 'lab/ may import relay/testing/relayProcess.js only.',
    }),
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
    rules: restrictImports({ regex: segment('relay'), message: 'client/ imports shared/, never relay/.' }),
  },
  {
    // The app runs in browsers: no Node APIs outside its tests.
    files: ['client/**/*.ts', 'client/**/*.tsx'],
    ignores: ['client/**/*.test.ts', 'client/testing/**'],
    rules: restrictImports(
      { regex: segment('relay'), message: 'client/ imports shared/, never relay/.' },
      { regex: nodeBuiltins, message: 'client/ runs in browsers: no Node APIs.' },
    ),
  },
  {
    // Client tests (and their harness in client/testing) may start real relay processes
    // (relay/testing/relayProcess, or several on one Redis with relay/testing/scaleOut), nothing else from relay/.
    files: ['client/**/*.test.ts', 'client/testing/**/*.ts'],
    rules: restrictImports({
      regex: '/relay/(?!testing/(relayProcess|scaleOut)\\.js$)',
      message: 'client tests may import relay/testing/relayProcess.js and relay/testing/scaleOut.js only.',
    }),
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
