/**
 * Galata configuration: Debian's Chromium (Playwright cannot download its own
 * browser here) against a real JupyterLab with the built extension.
 */
const { execFileSync } = require('child_process');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

/**
 * The test server's port: a free port of 127.0.0.1, so that the tests run
 * beside `scripts/lab.sh` (8888) or anything else on a fixed port. It is
 * chosen once, by the runner: the workers load this file again and find the
 * port in the environment the runner gives them and the server
 * (jupyter_server_test_config.py reads it too). Set YOLO_LAB_GALATA_PORT to
 * choose it, e.g. to reuse a server started with `npm start`.
 */
function serverPort() {
  if (!process.env.YOLO_LAB_GALATA_PORT) {
    // A child process asks the OS for a port: Playwright loads the config
    // synchronously and `listen` answers in a callback. The port is free
    // again when the child exits; the server binds it seconds later (its
    // port_retries = 0 says so if something took it in between).
    const script =
      "const s = require('net').createServer();" +
      "s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });";
    const port = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    process.env.YOLO_LAB_GALATA_PORT = port.trim();
  }
  return process.env.YOLO_LAB_GALATA_PORT;
}

const baseURL = `http://127.0.0.1:${serverPort()}`;

module.exports = {
  ...baseConfig,
  timeout: 120000,
  expect: { timeout: 30000 },
  workers: 1,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL,
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    // The server log goes to a file kept with the test results.
    command: 'mkdir -p test-results && npm start > test-results/jupyter-server.log 2>&1',
    url: `${baseURL}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
