import { test, expect, Page } from '@playwright/test';
import { ADMIN, signIn } from './helpers';

async function addIcal(page: Page, name: string, url: string) {
  await page.goto('/calendars/new');
  await page.getByLabel('Integration Name').fill(name);
  await page.getByLabel('iCal URL').fill(url);
  await page.getByRole('button', { name: 'Add calendar' }).click();
}

test('@smoke add an iCal calendar: a bad URL is refused under its field, fixed, saved', async ({ page }) => {
  const name = `Team feed ${Date.now()}`;
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Calendars' }).click();
  await expect(page.getByRole('heading', { name: 'Calendars', exact: true })).toBeVisible();
  await page.goto('/calendars/new');
  // The spec's defaults, the same the REST API uses.
  await expect(page.getByLabel('Sync Interval (minutes)')).toHaveValue('15');
  await page.goto('/calendars');
  await addIcal(page, name, 'ftp://example.com/team.ics');
  await expect(page.getByTestId('error-ical_url')).toHaveText('iCal URL must start with http://, https://, or webcal://');
  // What was typed is still there.
  await expect(page.getByLabel('Integration Name')).toHaveValue(name);
  await expect(page.getByLabel('iCal URL')).toHaveValue('ftp://example.com/team.ics');
  await page.getByLabel('iCal URL').fill('https://example.com/team.ics');
  await page.getByRole('button', { name: 'Add calendar' }).click();
  await expect(page).toHaveURL(/\/calendars\?/);
  await expect(page.getByTestId('notice').first()).toHaveText(`Added '${name}'.`);
  const card = page.locator(`[data-test=calendar-card][data-title="${name}"]`);
  await expect(card).toBeVisible();
  await expect(card.getByTestId('status')).toHaveText('Pending first sync');
  await expect(card).toContainText('iCal');
});

test('make a second calendar primary and see the unmark message', async ({ page }) => {
  const stamp = Date.now();
  const first = `Work ${stamp}`;
  const second = `Home ${stamp}`;
  await signIn(page, ADMIN.email, ADMIN.password);
  await addIcal(page, first, 'https://example.com/work.ics');
  await expect(page.getByTestId('notice').first()).toHaveText(`Added '${first}'.`);
  // Whatever was primary before, make the first one primary now.
  const firstCard = page.locator(`[data-test=calendar-card][data-title="${first}"]`);
  await firstCard.getByRole('button', { name: 'Make primary' }).click();
  await expect(firstCard.getByTestId('primary-badge')).toBeVisible();
  await expect(page.getByTestId('notice-warning').first()).toContainText('bookings cannot be written to it');

  await addIcal(page, second, 'webcal://example.com/home.ics');
  await expect(page.getByTestId('notice').first()).toHaveText(`Added '${second}'.`);
  const secondCard = page.locator(`[data-test=calendar-card][data-title="${second}"]`);
  await secondCard.getByRole('button', { name: 'Make primary' }).click();
  await expect(page.getByTestId('notice')).toContainText([`'${second}' is now your primary calendar.`, `Unmarked '${first}' as primary calendar.`]);
  await expect(secondCard.getByTestId('primary-badge')).toBeVisible();
  await expect(firstCard.getByTestId('primary-badge')).toHaveCount(0);

  // A plain edit cannot make a second active primary: the spec's message, under the field.
  await firstCard.getByRole('link', { name: 'Edit' }).click();
  await page.getByLabel('Is Primary Calendar').check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByTestId('error-is_primary')).toContainText(`A primary calendar integration already exists for user '${ADMIN.email}': '${second}'.`);

  // Deactivate, then delete with confirmation.
  await page.goto('/calendars');
  await firstCard.getByRole('button', { name: 'Deactivate' }).click();
  await expect(firstCard.getByTestId('status')).toHaveText('Inactive');
  await firstCard.getByText('Delete…').click();
  await firstCard.getByRole('button', { name: 'Delete calendar' }).click();
  await expect(page.getByTestId('notice').first()).toHaveText(`Deleted '${first}'.`);
  await expect(firstCard).toHaveCount(0);
});

test('a user cannot open an admin\'s calendar (404)', async ({ page, browser }) => {
  const stamp = Date.now();
  await signIn(page, ADMIN.email, ADMIN.password);
  await addIcal(page, `Private ${stamp}`, 'https://example.com/private.ics');
  const card = page.locator(`[data-test=calendar-card][data-title="Private ${stamp}"]`);
  const recordName = await card.getAttribute('data-name');
  expect(recordName).toMatch(/^MM-CI-admin@example\.com-\d{4}$/);

  const email = `viewer${stamp}@example.com`;
  await page.goto('/admin/users');
  const form = page.getByRole('form', { name: 'Add a user' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill('viewer password 1');
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(email);

  const ctx = await browser.newContext();
  const other = await ctx.newPage();
  await signIn(other, email, 'viewer password 1');
  const res = await other.goto(`/calendars/${recordName}`);
  expect(res?.status()).toBe(404);
  await expect(other.getByTestId('not-found')).toBeVisible();
  await other.goto('/calendars');
  await expect(other.getByTestId('empty-state')).toBeVisible();
  await expect(other.locator('[data-test=calendar-card]')).toHaveCount(0);
  await ctx.close();
});
