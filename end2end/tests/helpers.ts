import { expect, Page } from '@playwright/test';

export const ADMIN = { email: process.env.CALSYNC_E2E_ADMIN ?? 'admin@example.com', password: process.env.CALSYNC_E2E_PASSWORD ?? 'admin password 1' };

/** Waits until the page is hydrated (the app marks nothing, so wait for the wasm to answer a click). */
export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('welcome')).toBeVisible();
}
