// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * Imports run one way (STYLE.md §1, DESIGN.md §1): bin → commands → settings | sources | streams |
 * sinks → graph → errors, types; the emulator is a wing of its own. Each block forbids, for the files
 * of one folder, the folders its arrows must not run back up to.
 */
const layer = (folder, forbidden, why) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: forbidden.flatMap((f) => [`../${f}/*`, `../${f}`]),
            message: `${folder} must not import from ${forbidden.join(', ')}: ${why}`,
          },
        ],
      },
    ],
  },
});
const ABOVE_GRAPH = ['commands', 'settings', 'sources', 'streams', 'sinks', 'credentials', 'emulator'];
const layers = [
  layer('graph', ABOVE_GRAPH, 'Graph access is shared by sources and sinks, and knows nothing of them'),
  layer(
    'streams',
    ['commands', 'settings', 'sources', 'sinks', 'credentials', 'emulator'],
    'streams are pure transforms; settings arrive as typed options, rows as types.ts types',
  ),
  layer(
    'sinks',
    ['commands', 'settings', 'sources', 'emulator'],
    'sinks take typed options from the command, and row types from types.ts',
  ),
  layer(
    'sources',
    ['commands', 'settings', 'sinks', 'emulator'],
    'sources take typed options from the command',
  ),
  layer('settings', ['commands', 'sources', 'emulator'], 'settings are read before anything runs'),
  layer(
    'credentials',
    ['commands', 'settings', 'sources', 'streams', 'sinks', 'emulator'],
    'credentials are a leaf',
  ),
  {
    files: ['src/emulator/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '../*',
                '!../graph',
                '../graph/*',
                '!../graph/schema.js',
                '!../graph/graph-entity-properties.json',
              ],
              message:
                'the emulator is a wing of its own: it imports nothing of the connector but the schema',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/types.ts', 'src/errors.ts', 'src/redact.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['./*/*', '!./graph/schema.js'],
              message: 'the shared vocabulary (types, errors, redaction) sits below every layer',
            },
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/out/', '.tmp/', '**/*.js', '!eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/commands/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'exit', message: 'Only bin/ and src/commands/ touch the process.' },
      ],
    },
  },
  ...layers,
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  prettier,
);
