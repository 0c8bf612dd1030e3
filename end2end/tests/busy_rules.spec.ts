import { test, expect, Page } from '@playwright/test';
import { ADMIN, checkAccessibility, icalDay as day, signIn, startFeedHost } from './helpers';

/** Tomorrow's tentative sync, a declined invitation the day after, "Lunch [free]" and a plain
 * meeting on the third day (the admin's zone is UTC). */
function feed(): string {
  const event = (uid: string, d: string, summary: string, extra = '') =>
    `BEGIN:VEVENT\r\nUID:${uid}\r\nDTSTART:${d}T100000Z\r\nDTEND:${d}T110000Z\r\nSUMMARY:${summary}\r\n${extra}END:VEVENT\r\n`;
  return 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync e2e//EN\r\n'
    + event('maybe', day(1), 'Maybe sync', 'STATUS:TENTATIVE\r\n')
    + event('declined', day(2), 'Offsite prep', `ORGANIZER:mailto:boss@example.com\r\nATTENDEE;PARTSTAT=DECLINED:mailto:${ADMIN.email}\r\n`)
    + event('lunch', day(3), 'Lunch [free]')
    + `BEGIN:VEVENT\r\nUID:plan\r\nDTSTART:${day(3)}T140000Z\r\nDTEND:${day(3)}T150000Z\r\nSUMMARY:Budget review\r\nEND:VEVENT\r\n`
    + 'END:VCALENDAR\r\n';
}

function isoDay(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

async function axeBothWidths(page: Page, label: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await checkAccessibility(page, `${label} at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('choose what blocks your time: preview, apply, and see it at once in the week view', async ({ page }) => {
  const host = await startFeedHost();
  host.state.body = feed();
  const name = `Rules feed ${Date.now()}`;
  try {
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.goto('/calendars/new');
    await page.getByLabel('Integration Name').fill(name);
    await page.getByLabel('iCal URL').fill(host.url('/rules.ics'));
    await page.getByRole('button', { name: 'Add calendar' }).click();
    const card = page.locator(`[data-test=calendar-card][data-title="${name}"]`);
    await card.getByRole('button', { name: 'Sync now' }).click();
    await expect(card.getByTestId('status')).toHaveText('Synced');
    const record = (await card.getAttribute('data-name'))!;

    // The week view under the defaults: the tentative sync hatched, the declined one absent.
    await page.goto(`/availability?week=${isoDay(1)}`);
    const blocks = page.getByTestId('busy-block').filter({ hasText: name });
    await expect(blocks.filter({ hasText: 'Maybe sync' })).toHaveClass(/maybe/);
    await expect(blocks.filter({ hasText: 'Maybe sync' })).toContainText('tentative');
    await expect(blocks.filter({ hasText: 'Offsite prep' })).toHaveCount(0);
    await expect(blocks.filter({ hasText: 'Budget review' })).not.toHaveClass(/maybe/);

    // The calendar's section: the defaults, then a bad pattern refused with the values kept.
    await page.goto(`/calendars/${record}`);
    await page.waitForLoadState('networkidle');
    const section = page.getByTestId('busy-rules');
    await expect(section.getByRole('switch', { name: 'Invitations you declined' })).not.toBeChecked();
    await expect(section.getByRole('switch', { name: 'Tentative events' })).toBeChecked();
    await section.getByRole('switch', { name: 'Tentative events' }).uncheck();
    await section.getByLabel('Titles that never block').fill(`[free]\n${'x'.repeat(201)}`);
    await section.getByRole('button', { name: 'Save rules' }).click();
    await expect(page.getByTestId('error-free_title_patterns')).toContainText('is longer than 200 characters');
    await expect(section.getByRole('switch', { name: 'Tentative events' })).not.toBeChecked();
    await axeBothWidths(page, 'what blocks your time with an error');

    // Saving shows what the next 14 days would do before anything changes.
    await section.getByLabel('Titles that never block').fill('[free]');
    await section.getByRole('button', { name: 'Save rules' }).click();
    const preview = page.getByTestId('busy-preview');
    await expect(preview.getByTestId('busy-preview-sentence')).toHaveText(
      "1 event will block your time, 3 won't: 'Maybe sync' (tentative), 'Offsite prep' (declined), 'Lunch [free]' (title has \"[free]\").");
    await expect(preview.getByTestId('preview-row').filter({ hasText: 'Budget review' })).toContainText('Yes');
    await axeBothWidths(page, 'the preview');
    // Nothing applied yet.
    await page.goto(`/availability?week=${isoDay(1)}`);
    await expect(page.getByTestId('busy-block').filter({ hasText: name }).filter({ hasText: 'Maybe sync' })).toHaveCount(1);

    // Apply: back on the calendar with what it did, and the week view changed at once.
    await page.goto(`/calendars/${record}`);
    await page.waitForLoadState('networkidle');
    await section.getByRole('switch', { name: 'Tentative events' }).uncheck();
    await section.getByLabel('Titles that never block').fill('[free]');
    await section.getByRole('button', { name: 'Save rules' }).click();
    await page.getByRole('button', { name: 'Apply these rules' }).click();
    await expect(page.getByTestId('notice').first()).toContainText(`Saved what blocks your time in '${name}'. Next 14 days: 1 event will block your time, 3 won't`);
    await expect(section.getByRole('switch', { name: 'Tentative events' })).not.toBeChecked();
    await expect(section.getByLabel('Titles that never block')).toHaveValue('[free]');
    await page.goto(`/availability?week=${isoDay(1)}`);
    const after = page.getByTestId('busy-block').filter({ hasText: name });
    await expect(after.filter({ hasText: 'Budget review' })).toHaveCount(1);
    await expect(after.filter({ hasText: 'Maybe sync' })).toHaveCount(0);
    await expect(after.filter({ hasText: 'Lunch' })).toHaveCount(0);
    await axeBothWidths(page, 'the week view');

    // The main form still saves: its version followed the rules' save.
    await page.goto(`/calendars/${record}`);
    await page.getByLabel('Sync Interval (minutes)').fill('45');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page).toHaveURL(/\/calendars(\?|$)/);
  } finally {
    host.server.close();
  }
});
