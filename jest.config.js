const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

const baseConfig = jestJupyterLab(__dirname);

// Add to the preset's ESM allow-list rather than replace it.
const presetAllowList = /\(\?!(.*)\)\.\+$/.exec(
  baseConfig.transformIgnorePatterns[0]
)[1];
const esModules = [presetAllowList, '@jupyterlab/'].join('|');

module.exports = {
  ...baseConfig,
  automock: false,
  reporters: ['default'],
  testRegex: 'src/.*/.*.spec.ts[x]?$',
  modulePathIgnorePatterns: [
    '<rootDir>/yolo_lab/labextension',
    '<rootDir>/.venv',
    '<rootDir>/ui-tests'
  ],
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
