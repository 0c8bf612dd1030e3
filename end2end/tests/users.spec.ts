import { test, expect } from '@playwright/test';
import { ADMIN, signIn } from './helpers';

test('admin creates a user who sets their profile; admin disables them', async ({ page, browser }) => {
  const email = `pat${Date.now()}@example.com`;
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  const form = page.getByRole('form', { name: 'Add a user' });
  // A bad address is refused under its field, and nothing is created.
  await form.getByLabel('Email').fill('not-an-email@');
  await form.getByLabel('Password').fill('pat password 1');
  await form.evaluate((f: HTMLFormElement) => f.setAttribute('novalidate', ''));
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('error-email')).toHaveText("'not-an-email@' is not a valid email address.");
  await expect(form.getByLabel('Password')).toHaveValue('pat password 1');

  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Full name').fill('Pat Doe');
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(email);
  const row = page.locator(`tr[data-email="${email}"]`);
  await expect(row).toContainText('Active');

  // The new user signs in elsewhere and sets a time zone.
  const other = await browser.newContext();
  const patPage = await other.newPage();
  await signIn(patPage, email, 'pat password 1');
  await expect(patPage.getByRole('link', { name: 'Admin' })).toHaveCount(0);
  await patPage.goto('/profile');
  // A fresh browser context loads the wasm anew: wait until it is in and the page hydrated,
  // or the click may land on the server-rendered form before its handler exists.
  await patPage.waitForLoadState('networkidle');
  await patPage.getByLabel('Time zone').selectOption('Europe/Berlin');
  await patPage.getByRole('button', { name: 'Save details' }).click();
  await expect(patPage.getByTestId('profile-saved')).toBeVisible();
  await patPage.reload();
  await expect(patPage.getByLabel('Time zone')).toHaveValue('Europe/Berlin');
  // A non-admin does not see the admin page.
  const res = await patPage.goto('/admin/users');
  await expect(patPage.getByTestId('not-found')).toBeVisible();

  // The admin disables Pat: Pat's open session ends.
  await row.getByRole('button', { name: 'Disable' }).click();
  await expect(row).toContainText('Disabled');
  await patPage.goto('/profile');
  await expect(patPage).toHaveURL(/\/login/);
  await other.close();
});
