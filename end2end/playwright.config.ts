import { defineConfig } from '@playwright/test';

// The app is started by scripts/test.sh (or by hand) and its address passed in CALSYNC_E2E_URL.
// Chromium is Debian's: no browser download is possible on this network.
export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    testIdAttribute: 'data-test',
    baseURL: process.env.CALSYNC_E2E_URL ?? 'http://127.0.0.1:3000',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
});
