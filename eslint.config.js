const tseslint = require('typescript-eslint');
const importX = require('eslint-plugin-import-x');

// The rooms of src/ and who may import whom: the core (protocol, transport,
// charts, sidebar, the helpers) knows no feature; environment and telemetry
// know no other feature; the status bar reads telemetry and training; the
// class knows only the core; nothing imports the status bar, the class or the
// plugin wiring back. Every file of src/ is in one room.
const CORE = [
  './src/protocol.ts',
  './src/protocol.generated.ts',
  './src/validator.ts',
  './src/tokens.ts',
  './src/transport.ts',
  './src/channel.ts',
  './src/kernelSource.ts',
  './src/remote.ts',
  './src/settings.ts',
  './src/sidebar.ts',
  './src/dom.ts',
  './src/icons.ts',
  './src/format.ts',
  './src/lazy.ts',
  './src/serverApi.ts',
  './src/target.ts',
  './src/charts'
];
const FEATURES = [
  './src/environment',
  './src/telemetry',
  './src/training',
  './src/status',
  './src/classroom'
];

module.exports = tseslint.config(
  {
    ignores: [
      'lib/',
      'node_modules/',
      'yolo_lab/',
      'ui-tests/',
      '.venv/',
      '*.js'
    ]
  },
  ...tseslint.configs.recommended,
  importX.flatConfigs.typescript,
  {
    files: ['src/**/*.ts'],
    settings: {
      'import-x/resolver': { typescript: { project: './tsconfig.json' } }
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      eqeqeq: 'error',
      curly: ['error', 'all'],
      'prefer-arrow-callback': 'error',
      // No import runs in a circle, type-only ones included.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...CORE.map(target => ({
              target,
              from: [...FEATURES, './src/index.ts'],
              message:
                'The core knows no feature: depend on a token or a type in the core.'
            })),
            {
              target: ['./src/environment', './src/telemetry'],
              from: [
                './src/training',
                './src/status',
                './src/classroom',
                './src/index.ts'
              ],
              message:
                'Environment and telemetry do not import training or the wiring.'
            },
            {
              target: './src/environment',
              from: './src/telemetry'
            },
            {
              target: './src/telemetry',
              from: './src/environment'
            },
            {
              target: './src/training',
              from: ['./src/index.ts', './src/status', './src/classroom']
            },
            {
              target: './src/status',
              from: ['./src/environment', './src/classroom', './src/index.ts'],
              message: 'The status bar reads telemetry and training only.'
            },
            {
              target: './src/classroom',
              from: [
                ...FEATURES.filter(f => f !== './src/classroom'),
                './src/index.ts'
              ],
              message: 'The class knows only the core.'
            }
          ]
        }
      ]
    }
  }
);
