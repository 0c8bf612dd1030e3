import { test, expect } from '@playwright/test';
import { ADMIN, icalDay as day, signIn, startFeedHost } from './helpers';

/** Three busy events this week around today (the admin's zone is UTC), one free, one cancelled. */
function feed(): string {
  const t = day(0);
  const event = (uid: string, start: string, end: string, summary: string, extra = '') =>
    `BEGIN:VEVENT\r\nUID:${uid}\r\nDTSTART:${start}\r\nDTEND:${end}\r\nSUMMARY:${summary}\r\n${extra}END:VEVENT\r\n`;
  return 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync e2e//EN\r\n'
    + event('standup', `${t}T090000Z`, `${t}T093000Z`, 'Standup')
    + event('review', `${t}T140000Z`, `${t}T153000Z`, 'Design review')
    + event('focus', `${t}T110000Z`, `${t}T120000Z`, 'Focus time', 'TRANSP:TRANSPARENT\r\n')
    + event('dropped', `${t}T160000Z`, `${t}T170000Z`, 'Dropped', 'STATUS:CANCELLED\r\n')
    + `BEGIN:VEVENT\r\nUID:daily\r\nDTSTART:${t}T070000Z\r\nDTEND:${t}T071500Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\nSUMMARY:Early check\r\nEND:VEVENT\r\n`
    + 'END:VCALENDAR\r\n';
}

test('@smoke an iCal feed syncs, blocks time in the week view, and a broken feed says why', async ({ page }) => {
  const host = await startFeedHost();
  host.state.body = feed();
  const name = `Team feed ${Date.now()}`;
  try {
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.goto('/calendars/new');
    await page.getByLabel('Integration Name').fill(name);
    await page.getByLabel('iCal URL').fill(host.url('/team.ics'));
    await page.getByRole('button', { name: 'Add calendar' }).click();
    const card = page.locator(`[data-test=calendar-card][data-title="${name}"]`);
    await expect(card.getByTestId('status')).toHaveText('Pending first sync');

    // Sync now: the card follows the run without a reload.
    await card.getByRole('button', { name: 'Sync now' }).click();
    await expect(card.getByTestId('status')).toHaveText('Synced');
    // standup, review, focus (free), dropped (cancelled) and two early checks.
    await expect(card.getByTestId('event-count')).toHaveText('6 events in the sync window');

    // The dashboard: status, counts, the chart.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sync' }).click();
    const row = page.locator(`[data-test=sync-row][data-title="${name}"]`);
    await expect(row.getByTestId('sync-status')).toHaveText('Success');
    await expect(row.getByTestId('run-counts')).toHaveText('6 created · 0 updated · 0 deleted · 0 unchanged');
    await expect(row.getByTestId('run-chart')).toBeVisible();

    // The week view: busy blocks labelled by the calendar; free and cancelled ones absent.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Availability' }).click();
    const blocks = page.getByTestId('busy-block').filter({ hasText: name });
    await expect(blocks.filter({ hasText: 'Standup' })).toHaveCount(1);
    await expect(blocks.filter({ hasText: 'Design review' })).toContainText('14:00–15:30');
    await expect(blocks.filter({ hasText: 'Focus time' })).toHaveCount(0);
    await expect(blocks.filter({ hasText: 'Dropped' })).toHaveCount(0);

    // Break the feed: Failed, with what happened and what to do; the events stay.
    host.state.status = 404;
    await page.goto('/sync');
    await row.getByRole('button', { name: 'Sync now' }).click();
    await expect(row.getByTestId('sync-status')).toHaveText('Failed');
    await expect(row.getByTestId('sync-error')).toContainText('The feed server answered 404 Not Found');
    await expect(row.getByTestId('sync-error')).toContainText('check the URL');
    await expect(row.getByTestId('event-count')).toHaveText('6');
    await page.goto('/availability');
    await expect(page.getByTestId('busy-block').filter({ hasText: 'Standup' }).first()).toBeVisible();
  } finally {
    host.server.close();
  }
});
