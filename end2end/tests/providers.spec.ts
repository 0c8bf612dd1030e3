import { test, expect, Page } from '@playwright/test';
import { ADMIN, checkAccessibility, signIn } from './helpers';

// The app runs with the provider sandbox inside (serve --sandbox): its consent page stands in
// for Google's, its admin API for a person changing things in their Google account.
const SANDBOX = process.env.CALSYNC_E2E_SANDBOX ?? 'http://127.0.0.1:3900';
/** The week view of the week holding tomorrow (the demo's first meetings are tomorrow). */
const TOMORROWS_WEEK = `/availability?week=${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}`;

async function card(page: Page, title: string) {
  return page.locator(`[data-test=calendar-card][data-title="${title}"]`);
}

async function consent(page: Page, decision: 'Allow' | 'Cancel') {
  await page.goto('/calendars');
  await page.getByTestId('connect-google').click();
  await expect(page.getByText('calsync provider sandbox')).toBeVisible();
  await page.getByLabel('Account').selectOption('ana@example.com');
  await page.getByRole('button', { name: decision }).click();
}

test('connect Google Calendar through the consent page, pick calendars, see them synced; deny; revoke and reconnect', async ({ page, request }) => {
  test.setTimeout(120_000);
  await signIn(page, ADMIN.email, ADMIN.password);

  // Denied consent: a message, nothing connected.
  await consent(page, 'Cancel');
  await expect(page).toHaveURL(/\/calendars/);
  await expect(page.getByText('You did not allow calsync to access Google Calendar. Nothing was connected.')).toBeVisible();

  // Allowed: the picker lists the account's calendars.
  await consent(page, 'Allow');
  await expect(page.getByRole('heading', { name: 'Choose calendars' })).toBeVisible();
  await expect(page.getByTestId('picker-account')).toHaveText('Google Calendar · ana@example.com');
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await checkAccessibility(page, `/connect @${width}`);
  }
  await expect(page.getByTestId('picker-row').filter({ hasText: 'Holidays' })).toContainText('Read-only');
  await page.getByLabel('ana@example.com').check();
  await page.getByLabel('Team').check();
  await page.getByRole('button', { name: 'Add selected calendars' }).click();

  await expect(page).toHaveURL(/\/calendars$/);
  const primary = await card(page, 'ana@example.com');
  await expect(primary.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  await expect(primary.getByTestId('auth-status')).toHaveText('Connected as ana@example.com · token refreshed automatically');
  const team = await card(page, 'Team (ana@example.com)');
  await expect(team.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  const record = await primary.getAttribute('data-name');

  // Their events block time in the week view.
  await page.goto(TOMORROWS_WEEK);
  await expect(page.getByText('Project kickoff').first()).toBeVisible();

  // The user revokes calsync's access in their Google account; the next sync says so.
  const revoked = await request.post(`${SANDBOX}/sandbox/google/revoke`, { data: { email: 'ana@example.com' } });
  expect(revoked.status()).toBe(204);
  await page.goto('/calendars');
  await primary.getByTestId('sync-now').click();
  await expect(primary.getByText('Access to Google Calendar was revoked (invalid_grant). Reconnect to resume syncing.')).toBeVisible({ timeout: 15_000 });
  await expect(primary.getByTestId('status')).toHaveText('Token expired');

  // Reconnect: the same record syncs again.
  await primary.getByTestId('reconnect').click();
  await expect(page.getByText('calsync provider sandbox')).toBeVisible();
  await page.getByLabel('Account').selectOption('ana@example.com');
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(page.getByText('Reconnected Google Calendar as ana@example.com. Syncing resumes now.')).toBeVisible();
  const again = await card(page, 'ana@example.com');
  await expect(again.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  expect(await again.getAttribute('data-name')).toBe(record);
});

test('connect Outlook through the consent page, pick a calendar, see it synced', async ({ page }) => {
  test.setTimeout(60_000);
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto('/calendars');
  await page.getByTestId('connect-outlook').click();
  await expect(page.getByText('calsync provider sandbox')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Sign in with Microsoft (sandbox)' })).toBeVisible();
  await page.getByLabel('Account').selectOption('ana@example.com');
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(page.getByTestId('picker-account')).toHaveText('Outlook Calendar · ana@example.com');
  await expect(page.getByTestId('picker-row').filter({ hasText: 'Projects' })).toContainText('Read-only');
  await page.getByLabel('Calendar', { exact: true }).check();
  await page.getByRole('button', { name: 'Add selected calendars' }).click();
  await expect(page).toHaveURL(/\/calendars$/);
  const outlook = page.locator('[data-test=calendar-card][data-title="Calendar (ana@example.com)"]');
  await expect(outlook.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  await expect(outlook.getByTestId('auth-status')).toHaveText('Connected as ana@example.com · token refreshed automatically');
  await page.goto(TOMORROWS_WEEK);
  await expect(page.getByText('Quarterly review').first()).toBeVisible();
});
