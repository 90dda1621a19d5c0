const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['lib/', 'node_modules/', 'yolo_lab/', 'ui-tests/', '.venv/', '*.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      eqeqeq: 'error',
      curly: ['error', 'all'],
      'prefer-arrow-callback': 'error'
    }
  }
);
