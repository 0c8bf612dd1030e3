import { test, expect, Page, ConsoleMessage } from '@playwright/test';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { ADMIN, checkAccessibility, signIn } from './helpers';

/** Serves one HTML page on another port of this machine: another origin (though the same site,
 *  so the session cookie travels with its posts and only the Origin check stands in the way). */
async function otherOrigin(html: string): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

/** The address a page's form posts to (a server function's path). */
async function formAction(page: Page, path: string, button: string): Promise<string> {
  await page.goto(path);
  const action = await page.locator('form', { has: page.getByRole('button', { name: button }) }).getAttribute('action');
  expect(action).toBeTruthy();
  return new URL(action!, page.url()).toString();
}

test('a form on another origin can neither sign in nor call a server function', async ({ page, baseURL }) => {
  // Login CSRF: another site signing the visitor in as the attacker.
  const signInAt = await formAction(page, '/login', 'Sign in');
  const attacker = await otherOrigin(`<!DOCTYPE html><html lang="en"><title>Prize</title><body>
    <form method="post" action="${signInAt}"><input name="email" value="${ADMIN.email}">
    <input name="password" value="${ADMIN.password}"><input name="next" value="/"><button>Claim</button></form>`);
  try {
    await page.goto(attacker.url);
    const [answer] = await Promise.all([page.waitForResponse(signInAt), page.getByRole('button', { name: 'Claim' }).click()]);
    expect(answer.status()).toBe(403);
    await expect(page.getByTestId('origin-refused')).toContainText(`This request came from ${new URL(attacker.url).origin}, but this calsync server is used at ${baseURL}.`);
    await expect(page.getByTestId('origin-refused')).toContainText('CALSYNC_PUBLIC_URL');
    await page.goto('/profile');
    await expect(page).toHaveURL(/\/login/);
  } finally {
    attacker.close();
  }

  // A signed-in user's cookie does not let another page add a calendar.
  await signIn(page, ADMIN.email, ADMIN.password);
  const saveAt = await formAction(page, '/calendars/new', 'Add calendar');
  const name = `Planted ${Date.now()}`;
  const planter = await otherOrigin(`<!DOCTYPE html><html lang="en"><title>Cats</title><body>
    <form method="post" action="${saveAt}"><input name="integration_type" value="iCal">
    <input name="integration_name" value="${name}"><input name="ical_url" value="https://evil.example/x.ics">
    <input name="is_active" value="on"><button>Cats</button></form>`);
  try {
    await page.goto(planter.url);
    const [answer] = await Promise.all([page.waitForResponse(saveAt), page.getByRole('button', { name: 'Cats' }).click()]);
    expect(answer.status()).toBe(403);
    await page.goto('/calendars');
    await expect(page.getByRole('heading', { name: 'Calendars', exact: true })).toBeVisible();
    await expect(page.locator(`[data-test=calendar-card][data-title="${name}"]`)).toHaveCount(0);
  } finally {
    planter.close();
  }
});

/** Collects what the browser reports as Content-Security-Policy violations. */
function watchCsp(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (/Content Security Policy|Refused to (execute|load|apply|compile)/i.test(m.text())) violations.push(`${page.url()}: ${m.text()}`);
  });
  return violations;
}

for (const width of [1280, 390]) {
  test(`every page hydrates under the CSP and passes axe at ${width} px`, async ({ page }) => {
    test.setTimeout(120_000);
    await page.setViewportSize({ width, height: width > 800 ? 900 : 844 });
    const violations = watchCsp(page);

    await page.goto('/login');
    // Hydrated: the password toggle answers (the wasm ran under the policy).
    const password = page.getByLabel('Password', { exact: true });
    await expect(async () => {
      await page.getByTestId('toggle-password').click();
      await expect(password).toHaveAttribute('type', 'text', { timeout: 500 });
    }).toPass();
    await checkAccessibility(page, `/login @${width}`);

    await signIn(page, ADMIN.email, ADMIN.password);
    // A calendar to show on the list and the edit form.
    const name = `Axe ${width} ${Date.now()}`;
    await page.goto('/calendars/new');
    await page.getByLabel('Integration Name').fill(name);
    await page.getByLabel('iCal URL').fill('https://example.com/axe.ics');
    await page.getByRole('button', { name: 'Add calendar' }).click();
    await expect(page.getByTestId('notice').first()).toHaveText(`Added '${name}'.`);
    const edit = await page.locator(`[data-test=calendar-card][data-title="${name}"] a`, { hasText: 'Edit' }).first().getAttribute('href');

    for (const path of ['/', '/calendars', '/calendars/new', edit!, '/sync', '/availability', '/bookings', '/profile', '/settings/tokens', '/settings/export', '/conflicts', edit!.replace('/calendars/', '/history?integration='), '/admin/users', '/admin/audit', '/admin/sync-health', '/no/such/page']) {
      await page.goto(path);
      await page.waitForLoadState('networkidle');
      await checkAccessibility(page, `${path} @${width}`);
    }
    // A refused form, with its inline errors showing.
    await page.goto('/calendars/new');
    await page.getByLabel('iCal URL').fill('ftp://example.com/x.ics');
    await page.getByRole('button', { name: 'Add calendar' }).click();
    await expect(page.getByTestId('error-ical_url')).toBeVisible();
    await checkAccessibility(page, `/calendars/new refused @${width}`);

    expect(violations, violations.join('\n')).toEqual([]);
  });
}
