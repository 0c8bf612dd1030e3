import { test, expect } from '@playwright/test';
import { ADMIN, checkAccessibility, icalDay, signIn, startFeedHost } from './helpers';

function feed(): string {
  const t = icalDay(0);
  return 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync e2e//EN\r\n'
    + `BEGIN:VEVENT\r\nUID:ops-1\r\nDTSTART:${t}T100000Z\r\nDTEND:${t}T110000Z\r\nSUMMARY:Planning\r\nLOCATION:Room 7\r\nEND:VEVENT\r\n`
    + 'END:VCALENDAR\r\n';
}

test('an admin sees a failing feed on Sync health, filters to it, retries it once fixed and it leaves the list; the week view says it is out of date', async ({ page }) => {
  const host = await startFeedHost();
  host.state.status = 404;
  const name = `Broken feed ${Date.now()}`;
  try {
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.goto('/calendars/new');
    await page.getByLabel('Integration Name').fill(name);
    await page.getByLabel('iCal URL').fill(host.url('/ops.ics'));
    await page.getByRole('button', { name: 'Add calendar' }).click();
    const card = page.locator(`[data-test=calendar-card][data-title="${name}"]`);
    await card.getByRole('button', { name: 'Sync now' }).click();
    await expect(card.getByTestId('status')).toHaveText('Sync failed');

    // The week view names the calendar it cannot trust.
    await page.goto('/availability');
    const banner = page.getByTestId('degraded-banner');
    await expect(banner).toContainText(name);
    await expect(banner).toContainText('Failed (never synced)');
    await expect(banner).toContainText('none of its busy time is known yet');

    // Admin → Sync health: the failing feed with its error; the Failed count filters to it.
    await page.goto('/admin/users');
    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Sync health' }).click();
    const row = page.locator(`[data-test=health-row][data-title="${name}"]`);
    await expect(row.getByTestId('health-kind')).toHaveText('Failed');
    await expect(row.getByTestId('health-error')).toContainText('404');
    await page.getByTestId('health-counts').locator('a[data-kind="Failed"]').click();
    await expect(page).toHaveURL(/kind=Failed/);
    await expect(row).toBeVisible();
    await page.getByLabel('Error contains').fill('404 Not Found');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page).toHaveURL(/text=404/);
    await expect(row).toBeVisible();
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await checkAccessibility(page, `sync health at ${width} px`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    // Fixed: Retry now syncs it and it leaves the list.
    host.state.status = 200;
    host.state.body = feed();
    await row.getByRole('button', { name: 'Retry now' }).click();
    await expect(row).toHaveCount(0);
    await page.goto('/availability');
    await expect(page.getByTestId('busy-block').filter({ hasText: 'Planning' })).toHaveCount(1);
    await expect(page.getByTestId('degraded-banner').filter({ hasText: name })).toHaveCount(0);
  } finally {
    host.server.close();
  }
});

test('Sync health does not exist for a user who is not an admin', async ({ page, browser }) => {
  await signIn(page, ADMIN.email, ADMIN.password);
  const email = `ops-user-${Date.now()}@example.com`;
  await page.goto('/admin/users');
  const form = page.getByRole('form', { name: 'Add a user' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill('ops password 1');
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(email);
  const other = await browser.newContext();
  const userPage = await other.newPage();
  await signIn(userPage, email, 'ops password 1');
  const answer = await userPage.goto('/admin/sync-health');
  expect(answer?.status()).toBe(404);
  await expect(userPage.getByTestId('not-found')).toBeVisible();
  await other.close();
});

test('a user creates a free/busy export link, copies it, and the feed holds only “Busy” blocks; a revoked link is gone', async ({ page, context, request }) => {
  const host = await startFeedHost();
  host.state.body = feed();
  const name = `Exported ${Date.now()}`;
  try {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.goto('/calendars/new');
    await page.getByLabel('Integration Name').fill(name);
    await page.getByLabel('iCal URL').fill(host.url('/export.ics'));
    await page.getByRole('button', { name: 'Add calendar' }).click();
    const card = page.locator(`[data-test=calendar-card][data-title="${name}"]`);
    await card.getByRole('button', { name: 'Sync now' }).click();
    await expect(card.getByTestId('status')).toHaveText('Synced');

    await page.getByRole('link', { name: 'Calendar export' }).click();
    await expect(page.getByRole('heading', { name: 'Calendar export' })).toBeVisible();
    const form = page.getByRole('form', { name: 'Create an export link' });
    await expect(form.getByLabel('Free/busy: only “Busy” blocks, nothing else')).toBeChecked();
    await form.getByLabel(name).check();
    await expect(form.getByLabel('Only these:')).toBeChecked();
    await form.getByRole('button', { name: 'Create link' }).click();
    const created = page.getByTestId('new-export');
    await expect(created).toContainText('Free/busy (only “Busy”) link created.');
    const url = await page.getByTestId('export-url').inputValue();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ics\/[A-Za-z0-9_-]{43}\.ics$/);
    await expect(page.getByTestId('webcal-url')).toHaveText(url.replace('http://', 'webcal://'));
    await page.getByTestId('copy-url').click();
    await expect(created).toContainText('Copied.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await checkAccessibility(page, `calendar export at ${width} px`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    // What a subscriber gets: busy time, nothing else.
    const answer = await request.get(url);
    expect(answer.status()).toBe(200);
    expect(answer.headers()['content-type']).toBe('text/calendar; charset=utf-8');
    const body = await answer.text();
    expect(body.match(/^SUMMARY:.*$/gm)).toEqual(['SUMMARY:Busy']);
    for (const secret of ['Planning', 'Room 7', 'ops-1']) expect(body).not.toContain(secret);
    const again = await request.get(url, { headers: { 'If-None-Match': answer.headers()['etag'] } });
    expect(again.status()).toBe(304);
    // The address is the secret: the server's log names only its first characters.
    const token = url.split('/ics/')[1].replace('.ics', '');
    const log = process.env.CALSYNC_E2E_LOG ?? '';
    expect(log, 'CALSYNC_E2E_LOG names the server log').not.toBe('');
    const written = await import('node:fs').then((fs) => fs.readFileSync(log, 'utf8'));
    expect(written).toContain(`/ics/${token.slice(0, 6)}…`);
    expect(written).not.toContain(token);

    // The list shows it was fetched; revoking it makes the address a plain 404.
    await page.reload();
    const row = page.getByTestId('export-row').filter({ hasText: name });
    await expect(row.getByTestId('export-last-fetched')).not.toHaveText('never');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expect(page.getByTestId('export-row').filter({ hasText: name })).toHaveCount(0);
    expect((await request.get(url)).status()).toBe(404);
  } finally {
    host.server.close();
  }
});

test('a person books a meeting, a clashing one is refused naming what is in the way, and a cancelled one frees the time', async ({ page }) => {
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bookings' }).click();
  await expect(page.getByRole('heading', { name: 'Bookings', level: 1 })).toBeVisible();
  const day = new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10);
  const title = `Planning ${Date.now()}`;
  const form = page.getByRole('form', { name: 'Book a meeting' });
  await form.getByLabel('Title', { exact: true }).fill(title);
  await form.getByLabel('Start', { exact: true }).fill(`${day}T10:00`);
  await form.getByLabel('End', { exact: true }).fill(`${day}T10:30`);
  await form.getByLabel('Time zone').selectOption('UTC');
  await form.getByRole('button', { name: 'Book' }).click();
  await expect(page.getByTestId('booked')).toHaveText(`Booked '${title}' for ${ADMIN.email}.`);
  const item = page.getByTestId('booking').filter({ hasText: title });
  await expect(item).toContainText(`${day} 10:00–10:30 (UTC)`);

  await form.getByLabel('Title', { exact: true }).fill('Overlap');
  await form.getByLabel('Start', { exact: true }).fill(`${day}T10:15`);
  await form.getByLabel('End', { exact: true }).fill(`${day}T10:45`);
  await form.getByLabel('Time zone').selectOption('UTC');
  await form.getByRole('button', { name: 'Book' }).click();
  await expect(page.getByTestId('clash')).toContainText(`${ADMIN.email} is busy 10:00–10:30: '${title}' (Booking)`);
  await expect(form.getByLabel('Title', { exact: true })).toHaveValue('Overlap');
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await checkAccessibility(page, `bookings at ${width} px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });

  await item.getByRole('button', { name: 'Cancel booking' }).click();
  await expect(item).toContainText('Cancelled');
  await form.getByLabel('Title', { exact: true }).fill('Overlap');
  await form.getByLabel('Start', { exact: true }).fill(`${day}T10:15`);
  await form.getByLabel('End', { exact: true }).fill(`${day}T10:45`);
  await form.getByLabel('Time zone').selectOption('UTC');
  await form.getByRole('button', { name: 'Book' }).click();
  await expect(page.getByTestId('booked')).toHaveText(`Booked 'Overlap' for ${ADMIN.email}.`);
});
