/**
 * Galata / Playwright configuration: Debian's headless Chromium against a real JupyterLab.
 * scripts/test-ui.sh sets REPRO_UI_PORT; the server lives only as long as the run.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.REPRO_UI_PORT || '8888';

module.exports = {
  ...baseConfig,
  timeout: 120000,
  expect: { timeout: 20000 },
  retries: 0,
  workers: 1,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    video: 'off',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
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
    command: 'jlpm start',
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe'
  }
};
