import { test, expect } from '@playwright/test';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { ADMIN, signIn } from './helpers';

/** YYYYMMDD of today plus `days`, in UTC. */
function day(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
}

/** A feed of `n` one-hour events, one a day from tomorrow. */
function feed(n: number): string {
  let body = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync e2e//EN\r\n';
  for (let i = 0; i < n; i++) {
    body += `BEGIN:VEVENT\r\nUID:e${i}\r\nDTSTART:${day(i + 1)}T090000Z\r\nDTEND:${day(i + 1)}T100000Z\r\nSUMMARY:Event ${i}\r\nEND:VEVENT\r\n`;
  }
  return body + 'END:VCALENDAR\r\n';
}

test('a feed cut off in transfer keeps its events, and a mass removal waits for Apply', async ({ page }) => {
  const state = { body: feed(25) };
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/calendar; charset=utf-8' });
    res.end(state.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const name = `Club feed ${Date.now()}`;
  try {
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.goto('/calendars/new');
    await page.getByLabel('Integration Name').fill(name);
    await page.getByLabel('iCal URL').fill(`http://127.0.0.1:${port}/club.ics`);
    await page.getByRole('button', { name: 'Add calendar' }).click();
    // Saved before leaving: navigating away at once could abort the save (seen once in CI).
    await expect(page.getByTestId('notice').first()).toHaveText(`Added '${name}'.`);
    await page.goto('/sync');
    const row = page.locator(`[data-test=sync-row][data-title="${name}"]`);
    await row.getByRole('button', { name: 'Sync now' }).click();
    await expect(row.getByTestId('sync-status')).toHaveText('Success');
    await expect(row.getByTestId('event-count')).toHaveText('25');

    // Cut off after its first third: Failed, nothing removed.
    state.body = state.body.slice(0, Math.floor(state.body.length / 3));
    await row.getByRole('button', { name: 'Sync now' }).click();
    await expect(row.getByTestId('sync-status')).toHaveText('Failed');
    await expect(row.getByTestId('sync-error')).toContainText('it looks cut off in transfer. The events from the last complete sync are kept.');
    await expect(row.getByTestId('event-count')).toHaveText('25');

    // A whole feed that lost 23 of its 25 events: held, with Apply.
    state.body = feed(2);
    await row.getByRole('button', { name: 'Sync now' }).click();
    await expect(row.getByTestId('sync-error')).toContainText('This sync would remove 23 of 25 events.');
    await expect(row.getByTestId('event-count')).toHaveText('25');
    await row.getByRole('button', { name: 'Apply' }).click();
    await expect(row.getByTestId('sync-status')).toHaveText('Success');
    await expect(row.getByTestId('event-count')).toHaveText('2');
    await expect(row.getByTestId('applied-by')).toHaveText(`Removals applied by ${ADMIN.email}.`);
    await expect(row.getByTestId('held')).toHaveCount(0);
  } finally {
    server.close();
  }
});
