// typescript-eslint's recommended type-aware rules: floating promises and unsafe `any` flows are the
// bugs that hurt a long-running agent most.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/build/**', 'control/generated/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Kernel device names have one source, agent/names.ts: a name built by hand elsewhere drifts
    // from it unnoticed (the reconciler owns devices by name alone).
    files: ['agent/**/*.ts', 'control/**/*.ts', 'cli/**/*.ts', 'lib/**/*.ts'],
    ignores: ['agent/names.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...[
          'TemplateElement[tail=false][value.raw=/(^|[^A-Za-z0-9_-])(vx|vxbr)-$|(^|[^A-Za-z0-9_-])vx[vd]$/]',
          "BinaryExpression[operator='+'] > Literal.left[value=/(^|[^A-Za-z0-9_-])(vx|vxbr)-$|(^|[^A-Za-z0-9_-])vx[vd]$/]",
          "BinaryExpression[operator='+'] > BinaryExpression.left > Literal.right[value=/(^|[^A-Za-z0-9_-])(vx|vxbr)-$|(^|[^A-Za-z0-9_-])vx[vd]$/]",
        ].map((selector) => ({
          selector,
          message: 'Build device names with agent/names.ts (vxlanName, bridgeName, hostVethName, dockerPeerName).',
        })),
      ],
    },
  },
);
