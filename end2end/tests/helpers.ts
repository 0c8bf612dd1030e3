import { expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

export const ADMIN = { email: process.env.CALSYNC_E2E_ADMIN ?? 'admin@example.com', password: process.env.CALSYNC_E2E_PASSWORD ?? 'admin password 1' };

/** Waits until the page is hydrated (the app marks nothing, so wait for the wasm to answer a click). */
export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('welcome')).toBeVisible();
}

/** Runs axe's WCAG 2.1 A/AA rules on the page as it is now. */
export async function checkAccessibility(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = result.violations.map((v) => `${label}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  expect(found, found.join('\n')).toEqual([]);
}


/** An iCal host on localhost (the app runs with CALSYNC_ICAL_ALLOW_PRIVATE=1): answers `body`
 * while `status` is 200, else that status. */
export async function startFeedHost() {
  const http = await import('node:http');
  const state = { status: 200, body: '' };
  const server = http.createServer((_req, res) => {
    if (state.status !== 200) {
      res.writeHead(state.status, { 'content-type': 'text/plain' });
      res.end('gone');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/calendar; charset=utf-8' });
    res.end(state.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return { server, state, url: (path: string) => `http://127.0.0.1:${port}${path}` };
}

/** YYYYMMDD of today plus `days`, in UTC. */
export function icalDay(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
}
