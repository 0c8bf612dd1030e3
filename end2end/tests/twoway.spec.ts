import { test, expect } from '@playwright/test';
import { ADMIN, checkAccessibility, signIn } from './helpers';

// Two-way sync through the provider sandbox inside the app (serve --sandbox): its admin API
// shows what a person would see in their Google calendar.
const SANDBOX = process.env.CALSYNC_E2E_SANDBOX ?? 'http://127.0.0.1:3900';

test('a booking is written into the member’s primary Google calendar, shown as Written, and deleted there when cancelled', async ({ page, browser, request }) => {
  test.setTimeout(120_000);
  const stamp = Date.now();
  const email = `two-${stamp}@example.com`;
  const password = 'two password 1';
  // The member's Google account, and the member in calsync.
  expect((await request.post(`${SANDBOX}/sandbox/google/accounts`, { data: { email } })).status()).toBe(201);
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  const add = page.getByRole('form', { name: 'Add a user' });
  await add.getByLabel('Email').fill(email);
  await add.getByLabel('Password').fill(password);
  await add.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(email);

  const context = await browser.newContext();
  const member = await context.newPage();
  await signIn(member, email, password);
  // Connect the Google calendar and make it primary.
  await member.goto('/calendars');
  await member.getByTestId('connect-google').click();
  await member.getByLabel('Account').selectOption(email);
  await member.getByRole('button', { name: 'Allow' }).click();
  await member.getByLabel(email).check();
  await member.getByRole('button', { name: 'Add selected calendars' }).click();
  const card = member.locator(`[data-test=calendar-card][data-title="${email}"]`);
  await expect(card.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  await card.getByRole('button', { name: 'Make primary' }).click();
  await expect(card.getByRole('button', { name: 'Make primary' })).toHaveCount(0);

  // Book: the copy is written at once.
  await member.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bookings' }).click();
  const day = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
  const title = `Kickoff ${stamp}`;
  const form = member.getByRole('form', { name: 'Book a meeting' });
  await form.getByLabel('Title', { exact: true }).fill(title);
  await form.getByLabel('Start', { exact: true }).fill(`${day}T09:00`);
  await form.getByLabel('End', { exact: true }).fill(`${day}T09:45`);
  await form.getByLabel('Time zone').selectOption('UTC');
  await form.getByLabel('Attendees').fill('lee@example.com');
  await form.getByRole('button', { name: 'Book' }).click();
  await expect(member.getByTestId('booked')).toHaveText(`Booked '${title}' for ${email}.`);
  const item = member.getByTestId('booking').filter({ hasText: title });
  const copy = item.getByTestId('copy');
  await expect(copy).toHaveAttribute('data-state', 'written');
  await expect(copy).toHaveText(`${email}: Written`);
  for (const width of [1280, 390]) {
    await member.setViewportSize({ width, height: 900 });
    await checkAccessibility(member, `bookings with copies at ${width} px`);
  }
  await member.setViewportSize({ width: 1280, height: 900 });

  // In the Google calendar: exactly one event, at the booked time, with the attendee.
  const inGoogle = async () => {
    const answer = await request.get(`${SANDBOX}/sandbox/google/calendars/${encodeURIComponent(email)}/events`);
    expect(answer.status()).toBe(200);
    return (await answer.json()).items as any[];
  };
  let events = (await inGoogle()).filter((e) => e.extendedProperties?.private?.calsyncBooking);
  expect(events).toHaveLength(1);
  const id = events[0].id;
  expect(events[0].summary).toBe(title);
  expect(new Date(events[0].start.dateTime).toISOString()).toBe(`${day}T09:00:00.000Z`);
  expect(events[0].attendees).toEqual([{ email: 'lee@example.com' }]);

  // Cancelled: deleted from the calendar, and the booking says so.
  await item.getByRole('button', { name: 'Cancel booking' }).click();
  await expect(item).toContainText('Cancelled');
  await expect(copy).toContainText('Deleted from the calendar.');
  // A deleted Google event stays as its cancelled form (only its id).
  events = await inGoogle();
  expect(events.filter((e) => e.id === id).map((e) => e.status)).toEqual(['cancelled']);
  await context.close();
});
