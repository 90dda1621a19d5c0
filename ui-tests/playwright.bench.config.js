/**
 * Benchmarks: the test configuration with the benchmark folder and
 * Chromium's precise heap figures.
 */
const config = require('./playwright.config');

module.exports = {
  ...config,
  testDir: './benchmarks',
  testMatch: '**/*.bench.ts',
  reporter: [['list']],
  use: {
    ...config.use,
    launchOptions: {
      ...config.use.launchOptions,
      args: [...config.use.launchOptions.args, '--enable-precise-memory-info']
    }
  }
};
