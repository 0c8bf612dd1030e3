import { test, expect, Browser, Page, APIRequestContext } from '@playwright/test';
import { ADMIN, checkAccessibility, signIn } from './helpers';

// Two-way sync through the provider sandbox inside the app (serve --sandbox): its admin API
// shows what a person would see in their Google calendar.
const SANDBOX = process.env.CALSYNC_E2E_SANDBOX ?? 'http://127.0.0.1:3900';

/** A new member with a Google account in the sandbox, signed in (in their own browser
 * context), its calendar connected and made primary. */
async function member(page: Page, browser: Browser, request: APIRequestContext, stamp: number) {
  const email = `two-${stamp}@example.com`;
  const password = 'two password 1';
  expect((await request.post(`${SANDBOX}/sandbox/google/accounts`, { data: { email } })).status()).toBe(201);
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  const add = page.getByRole('form', { name: 'Add a user' });
  await add.getByLabel('Email').fill(email);
  await add.getByLabel('Password').fill(password);
  await add.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(email);

  const context = await browser.newContext();
  const me = await context.newPage();
  await signIn(me, email, password);
  await me.goto('/calendars');
  await me.getByTestId('connect-google').click();
  await me.getByLabel('Account').selectOption(email);
  await me.getByRole('button', { name: 'Allow' }).click();
  await me.getByLabel(email).check();
  await me.getByRole('button', { name: 'Add selected calendars' }).click();
  const card = me.locator(`[data-test=calendar-card][data-title="${email}"]`);
  await expect(card.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  await card.getByRole('button', { name: 'Make primary' }).click();
  await expect(card.getByRole('button', { name: 'Make primary' })).toHaveCount(0);
  return { email, context, me, card, record: (await card.getAttribute('data-name'))! };
}

/** What the member's Google calendar holds (a person looking at it). */
async function inGoogle(request: APIRequestContext, email: string): Promise<any[]> {
  const answer = await request.get(`${SANDBOX}/sandbox/google/calendars/${encodeURIComponent(email)}/events`);
  expect(answer.status()).toBe(200);
  return (await answer.json()).items as any[];
}

/** A person moves one occurrence of a series in Google (`original`: its UTC start,
 * `YYYY-MM-DDTHH:MM`): it becomes an exception of its own. Answers its id. */
async function moveInGoogle(request: APIRequestContext, email: string, master: any, original: string, start: string, end: string) {
  const id = `${master.id}_${original.replaceAll('-', '').replace(':', '')}00Z`;
  const exception = {
    ...master, id, recurrence: undefined, recurringEventId: master.id,
    originalStartTime: { dateTime: `${original}:00Z`, timeZone: 'UTC' },
    start: { dateTime: `${start}:00Z`, timeZone: 'UTC' }, end: { dateTime: `${end}:00Z`, timeZone: 'UTC' },
  };
  expect((await request.put(`${SANDBOX}/sandbox/google/calendars/${encodeURIComponent(email)}/events/${id}`, { data: exception })).status()).toBe(200);
  return id;
}

/** The calendar asks before following a change made in it. */
async function askFirst(me: Page, record: string) {
  await me.goto(`/calendars/${record}`);
  await me.getByLabel('When a booking\'s copy is changed in this calendar').selectOption('ask');
  await me.getByRole('button', { name: 'Save changes' }).click();
  await expect(me).toHaveURL(/\/calendars(\?|$)/);
}

/** Books a meeting on the Bookings page (with attendees, or repeating by `rule`). */
async function book(me: Page, title: string, day: string, from: string, to: string, rule?: string) {
  await me.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bookings' }).click();
  const form = me.getByRole('form', { name: 'Book a meeting' });
  await form.getByLabel('Title', { exact: true }).fill(title);
  await form.getByLabel('Start', { exact: true }).fill(`${day}T${from}`);
  await form.getByLabel('End', { exact: true }).fill(`${day}T${to}`);
  await form.getByLabel('Time zone').selectOption('UTC');
  if (rule) {
    await form.getByLabel('Repeats').fill(rule);
  } else {
    await form.getByLabel('Attendees').fill('lee@example.com');
  }
  await form.getByRole('button', { name: 'Book' }).click();
  await expect(me.getByTestId('booked')).toContainText(`Booked '${title}'`);
  return me.getByTestId('booking').filter({ hasText: title });
}

test('a booking is written into the member’s primary Google calendar, shown as Written, and deleted there when cancelled', async ({ page, browser, request }) => {
  test.setTimeout(120_000);
  const stamp = Date.now();
  const { email, context, me } = await member(page, browser, request, stamp);
  const day = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
  const title = `Kickoff ${stamp}`;
  const item = await book(me, title, day, '09:00', '09:45');
  const copy = item.getByTestId('copy');
  await expect(copy).toHaveAttribute('data-state', 'written');
  await expect(copy).toHaveText(`${email}: Written`);
  for (const width of [1280, 390]) {
    await me.setViewportSize({ width, height: 900 });
    await checkAccessibility(me, `bookings with copies at ${width} px`);
  }
  await me.setViewportSize({ width: 1280, height: 900 });

  // In the Google calendar: exactly one event, at the booked time, with the attendee.
  let events = (await inGoogle(request, email)).filter((e) => e.extendedProperties?.private?.calsyncBooking);
  expect(events).toHaveLength(1);
  const id = events[0].id;
  expect(events[0].summary).toBe(title);
  expect(new Date(events[0].start.dateTime).toISOString()).toBe(`${day}T09:00:00.000Z`);
  expect(events[0].attendees).toEqual([{ email: 'lee@example.com', responseStatus: 'needsAction' }]);

  // Cancelled: deleted from the calendar, and the booking says so. A deleted Google event
  // stays as its cancelled form (only its id).
  await item.getByRole('button', { name: 'Cancel booking' }).click();
  await expect(item).toContainText('Cancelled');
  await expect(copy).toContainText('Deleted from the calendar.');
  events = await inGoogle(request, email);
  expect(events.filter((e) => e.id === id).map((e) => e.status)).toEqual(['cancelled']);
  await context.close();
});

test('a meeting edited in Google and in calsync at once is a conflict, resolved field by field side by side; both sides then agree', async ({ page, browser, request }) => {
  test.setTimeout(150_000);
  const stamp = Date.now();
  const { email, context, me, card, record } = await member(page, browser, request, stamp);
  // Ask before following the calendar.
  await askFirst(me, record);

  const day = new Date(Date.now() + 6 * 86_400_000).toISOString().slice(0, 10);
  const title = `Design review ${stamp}`;
  const item = await book(me, title, day, '10:00', '11:00');
  await expect(item.getByTestId('copy')).toHaveAttribute('data-state', 'written');
  const [event] = (await inGoogle(request, email)).filter((e) => e.summary === title);

  // In Google, the meeting is moved to 14:00 and retitled.
  const moved = { ...event, summary: `${title} (Google)`, start: { dateTime: `${day}T14:00:00Z`, timeZone: 'UTC' }, end: { dateTime: `${day}T15:00:00Z`, timeZone: 'UTC' } };
  expect((await request.put(`${SANDBOX}/sandbox/google/calendars/${encodeURIComponent(email)}/events/${event.id}`, { data: moved })).status()).toBe(200);
  // In calsync, the same meeting gets a place and a new title.
  await item.getByText('Edit', { exact: true }).click();
  const edit = item.getByRole('form', { name: `Edit ${title}` });
  await edit.getByLabel('Title').fill(`${title} (calsync)`);
  await edit.getByLabel('Location').fill('Room 4');
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(me.getByTestId('saved')).toHaveText(`Saved '${title} (calsync)'.`);
  const changed = me.getByTestId('booking').filter({ hasText: `${title} (calsync)` });
  await expect(changed.getByTestId('copy')).toContainText('changed in Google Calendar meanwhile');
  // Nothing made in Google was overwritten.
  expect((await inGoogle(request, email)).find((e) => e.id === event.id).summary).toBe(`${title} (Google)`);

  // The next sync finds both changes: an open conflict.
  await me.goto('/calendars');
  await card.getByTestId('sync-now').click();
  await expect(card.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  await me.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Conflicts' }).click();
  const row = me.getByTestId('conflict').filter({ hasText: title });
  await expect(row).toHaveAttribute('data-state', 'open');
  await expect(row).toContainText('Title, Start, End, Location differ');
  for (const width of [1280, 390]) {
    await me.setViewportSize({ width, height: 900 });
    await checkAccessibility(me, `conflicts at ${width} px`);
  }
  await me.setViewportSize({ width: 1280, height: 900 });
  await row.getByRole('link').click();

  // Side by side: calsync's and the calendar's versions, the differing fields marked.
  await expect(me.getByTestId('conflict-state')).toHaveText('Open');
  const field = (name: string) => me.locator(`[data-test=field][data-field=${name}]`);
  await expect(field('title').locator('[data-side=local]')).toHaveText(`${title} (calsync)`);
  await expect(field('title').locator('[data-side=remote]')).toHaveText(`${title} (Google)`);
  await expect(field('start').locator('[data-side=remote]')).toContainText(`${day} 14:00`);
  await expect(field('description')).not.toHaveClass(/differs/);
  for (const width of [1280, 390]) {
    await me.setViewportSize({ width, height: 900 });
    await checkAccessibility(me, `one conflict at ${width} px`);
  }
  await me.setViewportSize({ width: 1280, height: 900 });
  // calsync's title and place, Google's time.
  await me.getByLabel("Keep the calendar's start").check();
  await me.getByLabel("Keep the calendar's end").check();
  await me.getByRole('button', { name: 'Apply my choices' }).click();
  await expect(me.getByTestId('resolved')).toContainText('Resolved.');
  await expect(me.getByTestId('conflict-state')).toHaveText('Resolved');
  await expect(me.getByTestId('decided')).toContainText(`Resolved by ${email}`);
  await expect(me.getByRole('button', { name: 'Apply my choices' })).toHaveCount(0);

  // Both places agree.
  const now = (await inGoogle(request, email)).find((e) => e.id === event.id);
  expect([now.summary, now.location, new Date(now.start.dateTime).toISOString()]).toEqual([`${title} (calsync)`, 'Room 4', `${day}T14:00:00.000Z`]);
  await me.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bookings' }).click();
  const after = me.getByTestId('booking').filter({ hasText: `${title} (calsync)` });
  await expect(after).toContainText(`${day} 14:00–15:00 (UTC)`);
  await expect(after.getByTestId('copy')).toHaveAttribute('data-state', 'written');

  // The history tells each step and who took it; the resolution can be undone from there.
  await after.getByRole('link', { name: 'History' }).click();
  await expect(me.getByRole('heading', { name: 'History', level: 1 })).toBeVisible();
  const entries = me.getByTestId('history-entry');
  await expect(entries.filter({ hasText: 'resolve conflict booking' })).toHaveCount(1);
  await expect(entries.filter({ hasText: 'create booking' })).toContainText(email);
  const resolution = entries.filter({ hasText: 'update booking' }).filter({ hasText: `conflict resolution by ${email}` });
  // Only what the resolution changed: the time, from 10:00 to the calendar's 14:00 (UTC).
  await expect(resolution.locator('tr').filter({ hasText: 'start' })).toContainText(`${day} 10:00:00${day} 14:00:00`);
  await expect(resolution).not.toContainText('Room 4');
  for (const width of [1280, 390]) {
    await me.setViewportSize({ width, height: 900 });
    await checkAccessibility(me, `history at ${width} px`);
  }
  await me.setViewportSize({ width: 1280, height: 900 });
  await me.getByRole('button', { name: 'Undo this resolution' }).click();
  await expect(me.getByTestId('undone')).toContainText('the conflict is open again');
  await expect(entries.filter({ hasText: 'undo resolution booking' })).toHaveCount(1);
  await expect(me.getByRole('button', { name: 'Undo this resolution' })).toHaveCount(0);
  // Undone in both places: calsync's booking is back as it was, and so is its copy.
  const undone = (await inGoogle(request, email)).find((e) => e.id === event.id);
  expect([undone.summary, undone.location, new Date(undone.start.dateTime).toISOString()]).toEqual([`${title} (calsync)`, 'Room 4', `${day}T10:00:00.000Z`]);
  await me.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Conflicts' }).click();
  await expect(me.getByTestId('conflict').filter({ hasText: title })).toHaveAttribute('data-state', 'open');
  await context.close();
});

test('a weekly meeting merges one occurrence at a time: moved in Google, retitled and one cancelled in calsync, all kept in both places', async ({ page, browser, request }) => {
  test.setTimeout(150_000);
  const stamp = Date.now();
  const { email, context, me, card } = await member(page, browser, request, stamp);
  const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  const week = (n: number) => new Date(Date.parse(`${day}T09:00:00Z`) + n * 7 * 86_400_000).toISOString().slice(0, 10);
  const title = `Standup ${stamp}`;
  const item = await book(me, title, day, '09:00', '09:15', 'RRULE:FREQ=WEEKLY;COUNT=4');
  await expect(item.getByTestId('copy')).toHaveAttribute('data-state', 'written');
  const [master] = (await inGoogle(request, email)).filter((e) => e.summary === title);

  // In Google, Ana moves the second occurrence to 13:00: an exception of its own.
  const second = await moveInGoogle(request, email, master, `${week(1)}T09:00`, `${week(1)}T13:00`, `${week(1)}T13:15`);

  // In calsync, the series is retitled, and the third occurrence alone is cancelled.
  await item.getByText('Edit', { exact: true }).click();
  const edit = item.getByRole('form', { name: `Edit ${title}` });
  await edit.getByLabel('Title').fill(`${title} (team)`);
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(me.getByTestId('saved')).toHaveText(`Saved '${title} (team)'.`);
  const series = me.getByTestId('booking').filter({ hasText: `${title} (team)` });
  await series.getByText('Coming occurrences').click();
  const occurrences = series.getByTestId('occurrence');
  await expect(occurrences).toHaveCount(4);
  await occurrences.nth(2).getByRole('button', { name: 'Cancel this one' }).click();
  await expect(me.getByTestId('saved')).toHaveText(`Cancelled one occurrence of '${title} (team)'.`);
  for (const width of [1280, 390]) {
    await me.setViewportSize({ width, height: 900 });
    await series.getByText('Coming occurrences').evaluate((e) => e.parentElement!.setAttribute('open', ''));
    await checkAccessibility(me, `a series' occurrences at ${width} px`);
  }
  await me.setViewportSize({ width: 1280, height: 900 });

  // The next sync merges one occurrence at a time: both changes stand, without a conflict.
  await me.goto('/calendars');
  await card.getByTestId('sync-now').click();
  await expect(card.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  // "Synced" shows when the events are stored; the merge of bookings follows right after.
  const after = me.getByTestId('booking').filter({ hasText: `${title} (team)` });
  const rows = after.getByTestId('occurrence');
  await expect(async () => {
    await me.goto('/bookings');
    await after.getByText(/Coming occurrences/).click();
    await expect(rows.nth(1)).toHaveAttribute('data-state', 'changed', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(rows.nth(1)).toContainText(`${week(1)} 13:00–13:15 · ${title} (team)`);
  await expect(rows.nth(2)).toHaveAttribute('data-state', 'cancelled');
  await expect(rows.nth(3)).toHaveAttribute('data-state', 'as-series');
  await expect(after.getByTestId('copy')).toHaveAttribute('data-state', 'written');
  const google = await inGoogle(request, email);
  expect(google.find((e) => e.id === master.id).summary).toBe(`${title} (team)`);
  const moved = google.find((e) => e.id === second);
  expect([moved.summary, new Date(moved.start.dateTime).toISOString()]).toEqual([`${title} (team)`, `${week(1)}T13:00:00.000Z`]);
  const third = google.find((e) => e.recurringEventId === master.id && e.originalStartTime?.dateTime && new Date(e.originalStartTime.dateTime).toISOString() === `${week(2)}T09:00:00.000Z`);
  expect(third?.status).toBe('cancelled');
  await me.goto('/conflicts');
  await expect(me.getByTestId('conflict').filter({ hasText: title })).toHaveCount(0);

  // Brought back in calsync: Google's occurrence returns too.
  await me.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bookings' }).click();
  await me.getByTestId('booking').filter({ hasText: `${title} (team)` }).getByText(/Coming occurrences/).click();
  await me.getByTestId('booking').filter({ hasText: `${title} (team)` }).getByTestId('occurrence').nth(2).getByRole('button', { name: 'Bring it back' }).click();
  await expect(me.getByTestId('saved')).toHaveText(`Saved one occurrence of '${title} (team)'.`);
  const back = (await inGoogle(request, email)).find((e) => e.id === third.id);
  expect([back.status, back.summary]).toEqual(['confirmed', `${title} (team)`]);
  await context.close();
});

test('one occurrence changed on both sides is a conflict of its own, shown and resolved side by side', async ({ page, browser, request }) => {
  test.setTimeout(150_000);
  const stamp = Date.now();
  const { email, context, me, card, record } = await member(page, browser, request, stamp);
  await askFirst(me, record);
  const day = new Date(Date.now() + 4 * 86_400_000).toISOString().slice(0, 10);
  const next = new Date(Date.parse(`${day}T08:00:00Z`) + 7 * 86_400_000).toISOString().slice(0, 10);
  const title = `Retro ${stamp}`;
  const item = await book(me, title, day, '08:00', '08:30', 'RRULE:FREQ=WEEKLY;COUNT=3');
  await expect(item.getByTestId('copy')).toHaveAttribute('data-state', 'written');
  const [master] = (await inGoogle(request, email)).filter((e) => e.summary === title);

  // Google moves the second occurrence to 11:00; calsync moves it to 16:00.
  const second = await moveInGoogle(request, email, master, `${next}T08:00`, `${next}T11:00`, `${next}T11:30`);
  await item.getByText('Coming occurrences').click();
  const row = item.getByTestId('occurrence').nth(1);
  await row.getByText('Change this one').click();
  const change = row.getByRole('form', { name: /Change the occurrence of/ });
  await change.getByLabel('Start').fill(`${next}T16:00`);
  await change.getByLabel('End').fill(`${next}T16:30`);
  await change.getByRole('button', { name: 'Save this occurrence' }).click();
  await expect(me.getByTestId('saved')).toHaveText(`Saved one occurrence of '${title}'.`);
  await expect(item.getByTestId('copy')).toContainText('changed in Google Calendar meanwhile');

  await me.goto('/calendars');
  await card.getByTestId('sync-now').click();
  await expect(card.getByTestId('status')).toHaveText('Synced', { timeout: 15_000 });
  await expect(async () => {
    await me.goto('/conflicts');
    await expect(me.getByTestId('conflict').filter({ hasText: title })).toHaveAttribute('data-state', 'open', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  const conflict = me.getByTestId('conflict').filter({ hasText: title });
  await expect(conflict).toContainText(`Occurrence of`);
  await conflict.getByRole('link').click();
  const field = me.locator(`[data-test=field][data-field="occurrence:${next}T08:00:00Z"]`);
  await expect(field).toHaveClass(/differs/);
  await expect(field.locator('[data-side=local]')).toContainText(`${next} 16:00–16:30`);
  await expect(field.locator('[data-side=remote]')).toContainText(`${next} 11:00–11:30`);
  for (const width of [1280, 390]) {
    await me.setViewportSize({ width, height: 900 });
    await checkAccessibility(me, `an occurrence's conflict at ${width} px`);
  }
  await me.setViewportSize({ width: 1280, height: 900 });
  await me.getByLabel(/Keep the calendar's occurrence of/).check();
  await me.getByRole('button', { name: 'Apply my choices' }).click();
  await expect(me.getByTestId('conflict-state')).toHaveText('Resolved');

  // Both places agree: 11:00 in Google and in calsync.
  const moved = (await inGoogle(request, email)).find((e) => e.id === second);
  expect(new Date(moved.start.dateTime).toISOString()).toBe(`${next}T11:00:00.000Z`);
  await me.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bookings' }).click();
  const after = me.getByTestId('booking').filter({ hasText: title });
  await after.getByText(/Coming occurrences/).click();
  await expect(after.getByTestId('occurrence').nth(1)).toContainText(`${next} 11:00–11:30`);
  await context.close();
});
