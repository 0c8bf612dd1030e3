import { test, expect } from '@playwright/test';
import { ADMIN, signIn } from './helpers';

test('a password change signs out the other browsers, keeps this one, and shows in the audit', async ({ page, browser }) => {
  // A user of our own, so the admin's password stays as the other tests expect it.
  const email = `lee${Date.now()}@example.com`;
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  const form = page.getByRole('form', { name: 'Add a user' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill('lee first password');
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(email);

  const laptopContext = await browser.newContext();
  const phoneContext = await browser.newContext();
  const laptop = await laptopContext.newPage();
  const phone = await phoneContext.newPage();
  await signIn(laptop, email, 'lee first password');
  await signIn(phone, email, 'lee first password');

  await laptop.goto('/profile');
  await laptop.waitForLoadState('networkidle');
  // A common password is refused with the reason, under its field.
  await laptop.getByLabel('Current password').fill('lee first password');
  await laptop.getByLabel('New password', { exact: true }).fill('password1234');
  await laptop.getByLabel('New password again').fill('password1234');
  await laptop.getByRole('button', { name: 'Change password' }).click();
  await expect(laptop.getByTestId('error-new_password')).toHaveText('This password is on the list of the most common passwords found in breaches. Please choose another.');
  await laptop.getByLabel('New password', { exact: true }).fill('lee second password');
  await laptop.getByLabel('New password again').fill('lee second password');
  await laptop.getByRole('button', { name: 'Change password' }).click();
  await expect(laptop.getByTestId('password-changed')).toBeVisible();

  // The laptop stays signed in; the phone is signed out.
  await laptop.goto('/calendars');
  await expect(laptop.getByRole('heading', { name: 'Calendars', exact: true })).toBeVisible();
  await phone.goto('/calendars');
  await expect(phone).toHaveURL(/\/login/);
  await signIn(phone, email, 'lee second password');

  // The admin sees it in Admin → Audit, filtered to the account.
  await page.goto('/admin/audit');
  await page.getByLabel('Account', { exact: true }).selectOption(email);
  await page.getByLabel('Event', { exact: true }).selectOption('password changed');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/kind=password/);
  const rows = page.getByTestId('audit-row');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(email);
  await expect(rows.first()).toContainText('127.0.0.1');
  await laptopContext.close();
  await phoneContext.close();
});

test('an API token can be given an expiry and shows when it was last used', async ({ page, request, baseURL }) => {
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto('/settings/tokens');
  await page.waitForLoadState('networkidle');
  const label = `reporting ${Date.now()}`;
  await page.getByLabel('What is it for?').fill(label);
  await page.getByLabel('Expires').selectOption('30');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent())!.trim();
  const row = page.getByTestId('token-row').filter({ hasText: label });
  await expect(row.getByTestId('token-last-used')).toHaveText('never');
  const expires = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  await expect(row.getByTestId('token-expires')).toContainText(expires);
  const res = await request.get(`${baseURL}/api/v1/integrations`, { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('token-row').filter({ hasText: label }).getByTestId('token-last-used')).not.toHaveText('never');
});
