// Lint rules: typescript-eslint's recommended type-aware set, plus the layering
// rule of ARCHITECTURE.md (machines/ stay pure: no I/O imports).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'test-output/', 'lab-output/', 'charts/', 'visualizations/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // vitest's asymmetric matchers (expect.objectContaining…) are typed `any`.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'http', 'https', 'dgram', 'child_process', 'os'], message: 'machines/ is pure: no I/O imports (see ARCHITECTURE.md, layers).' },
          { group: ['**/effects/**', '**/runtime/**', '**/lab/**'], message: 'machines/ must not depend on effects/, runtime/ or lab/.' },
          { group: ['netlink', '@kubernetes/*', '@aws-sdk/*', 'prom-client', 'pino', '@opentelemetry/*', 'p-retry'], message: 'machines/ is pure: I/O libraries belong to effects/ or runtime/.' },
        ],
      }],
    },
  },
  {
    // The lab judges the gateway: it models the real systems and must not share the gateway's code,
    // so that a bug the two would share can show (ARCHITECTURE.md, "The lab judges the gateway").
    files: ['lab/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/effects/**', '**/runtime/**', '**/machines/**'], message: 'lab/ must not import the gateway (effects/, runtime/, machines/): derive what it needs from the documented behaviour.' }],
      }],
    },
  },
  {
    files: ['effects/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/runtime/**', '**/lab/**'], message: 'effects/ must not depend on runtime/ or lab/.' }],
      }],
    },
  },
);
