import { test, expect, Page } from '@playwright/test';
import { ADMIN, checkAccessibility, signIn } from './helpers';

/** The Monday of next week (UTC), as YYYY-MM-DD, and the day after. */
function nextWeek(): { monday: string; tuesday: string } {
  const d = new Date();
  d.setUTCHours(12, 0, 0, 0);
  d.setUTCDate(d.getUTCDate() + ((8 - d.getUTCDay()) % 7 || 7));
  const monday = d.toISOString().slice(0, 10);
  d.setUTCDate(d.getUTCDate() + 1);
  return { monday, tuesday: d.toISOString().slice(0, 10) };
}

async function addUser(page: Page, email: string, name: string) {
  await page.goto('/admin/users');
  const form = page.getByRole('form', { name: 'Add a user' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Full name').fill(name);
  await form.getByLabel('Password').fill('member password 1');
  await form.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(email);
}

async function axeBothWidths(page: Page, label: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await checkAccessibility(page, `${label} at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('set working hours, add a day off, make a team, find a time for it, book it and see who got it', async ({ page }) => {
  const stamp = Date.now();
  const ana = `ana${stamp}@example.com`;
  const bob = `bob${stamp}@example.com`;
  const team = `Sales ${stamp}`;
  const { monday, tuesday } = nextWeek();
  await signIn(page, ADMIN.email, ADMIN.password);
  await addUser(page, ana, 'Ana Able');
  await addUser(page, bob, 'Bob Baker');

  // Working hours, Monday to Friday 09:00–17:00 UTC, for both; a bad entry first.
  for (const who of [ana, bob]) {
    await page.goto(`/settings/working-hours?user=${encodeURIComponent(who)}`);
    await page.waitForLoadState('networkidle');
    const form = page.getByRole('form', { name: 'Weekly hours' });
    await form.getByLabel('Time zone of these hours').selectOption('UTC');
    await form.getByLabel('Available at any time (no working hours)').uncheck();
    for (const day of ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday']) {
      await form.getByLabel(day, { exact: true }).fill(day === 'Monday' && who === ana ? '9 to 5' : '09:00–17:00');
    }
    await form.getByLabel('Buffer before (minutes)').fill('15');
    await form.getByRole('button', { name: 'Save working hours' }).click();
    if (who === ana) {
      await expect(page.getByTestId('error-hours_mon')).toHaveText("'9 to 5' is not hours such as 09:00–17:00.");
      await expect(form.getByLabel('Tuesday', { exact: true })).toHaveValue('09:00–17:00');
      await form.getByLabel('Monday', { exact: true }).fill('09:00–17:00');
      await form.getByRole('button', { name: 'Save working hours' }).click();
    }
    await expect(page.getByTestId('hours-saved')).toHaveText('Working hours saved.');
  }
  // Ana takes next Monday off.
  await page.goto(`/settings/working-hours?user=${encodeURIComponent(ana)}`);
  await page.waitForLoadState('networkidle');
  await expect(page.getByTestId('no-overrides')).toBeVisible();
  const add = page.getByRole('form', { name: 'Add a date' });
  await add.getByLabel('Date').fill(monday);
  await add.getByRole('button', { name: 'Add date' }).click();
  await expect(page.getByTestId('override-saved')).toHaveText(`${monday} is a day off.`);
  await expect(page.getByTestId('override')).toContainText('Day off');
  await expect(page.getByLabel('Monday', { exact: true })).toHaveValue('09:00–17:00');
  await axeBothWidths(page, 'Working hours');

  // Admin → Teams.
  await page.goto('/admin/teams');
  await page.waitForLoadState('networkidle');
  const create = page.getByRole('form', { name: 'New team' });
  await create.getByLabel('Name').fill(team);
  await create.getByLabel('Members').fill(`${ana}\n${bob}`);
  await create.getByRole('button', { name: 'Create team' }).click();
  await expect(page.getByTestId('team-saved')).toHaveText(`Team '${team}' created with 2 members.`);
  await expect(page.getByTestId('team').filter({ hasText: team })).toContainText('2 members');
  await axeBothWidths(page, 'Teams');

  // Find a time for the team next week: Monday only Bob is free, Tuesday both.
  await page.goto('/find-a-time');
  await page.waitForLoadState('networkidle');
  await page.getByLabel('Who').selectOption(`team:${team}`);
  await page.getByLabel('Meeting length').selectOption('30');
  await page.getByLabel('Week of').fill(monday);
  await page.getByRole('button', { name: 'Find free slots' }).click();
  await expect(page).toHaveURL(/week=/);
  const mondaySlots = page.getByRole('region', { name: new RegExp(`^Mon `) });
  await expect(mondaySlots.getByTestId('slot').first()).toContainText('09:00–09:30');
  await expect(mondaySlots.getByTestId('slot').first()).toContainText('Bob Baker');
  await expect(mondaySlots.getByTestId('slot').first()).not.toContainText('Ana Able');
  const tuesdaySlots = page.getByRole('region', { name: new RegExp(`^Tue `) });
  await expect(tuesdaySlots.getByTestId('slot').first()).toContainText('Ana Able, Bob Baker');
  await axeBothWidths(page, 'Find a time');

  // Book Monday 09:00: Bob gets it (Ana is off).
  await mondaySlots.getByTestId('slot').first().getByRole('link', { name: /^Book / }).click();
  await expect(page).toHaveURL(/\/bookings\?team=/);
  await page.waitForLoadState('networkidle');
  await expect(page.getByTestId('team-booking')).toBeVisible();
  await expect(page.getByLabel('Start')).toHaveValue(`${monday}T09:00`);
  await page.getByLabel('Title').fill('Intro call');
  await page.getByRole('button', { name: 'Book', exact: true }).click();
  await expect(page.getByTestId('booked')).toContainText(`Booked 'Intro call' for ${bob} (team ${team}).`);

  // Tuesday 09:00: both free, Ana was never booked for the team: Ana.
  await page.goto(`/find-a-time?who=${encodeURIComponent(`team:${team}`)}&mode=any&duration=30&week=${monday}`);
  await page.waitForLoadState('networkidle');
  await page.getByRole('region', { name: /^Tue / }).getByTestId('slot').first().getByRole('link', { name: /^Book / }).click();
  await page.waitForLoadState('networkidle');
  await expect(page.getByLabel('Start')).toHaveValue(`${tuesday}T09:00`);
  await page.getByLabel('Title').fill('Second call');
  await page.getByRole('button', { name: 'Book', exact: true }).click();
  await expect(page.getByTestId('booked')).toContainText(`Booked 'Second call' for ${ana} (team ${team}).`);
  // Bob's Monday 09:00 is taken now, and he keeps 15 minutes free before a meeting: his first Monday slot is 09:45.
  await page.goto(`/find-a-time?who=${encodeURIComponent(`team:${team}`)}&mode=any&duration=30&week=${monday}`);
  await expect(page.getByRole('region', { name: /^Mon / }).getByTestId('slot').first()).toContainText('09:45–10:15');
});
