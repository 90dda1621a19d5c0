/**
 * Benchmarks: the test configuration with the benchmark folder and no
 * tracing.
 */
const config = require('./playwright.config');

module.exports = {
  ...config,
  testDir: './benchmarks',
  testMatch: '**/*.bench.ts',
  reporter: [['list']],
  use: {
    ...config.use,
    // Tracing snapshots the DOM on every mutation: not part of what is measured.
    trace: 'off'
  }
};
