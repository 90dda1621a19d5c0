/**
 * The README's pictures: a real run in JupyterLab at 1600x1000, light and
 * dark, written to docs/ (`npm run pictures`). Not part of the tests.
 */
const config = require('./playwright.config');

module.exports = {
  ...config,
  testDir: './pictures',
  testMatch: '**/*.pictures.ts',
  reporter: [['list']],
  use: {
    ...config.use,
    viewport: { width: 1600, height: 1000 },
    trace: 'off',
    video: 'off'
  }
};
