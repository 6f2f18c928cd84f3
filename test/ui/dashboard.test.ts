/**
 * The dashboard in a real Chromium against a real daemon: the API and router on a real PostgreSQL
 * deliver to a webhook receiver (test/fakes/http-sink.ts) that refuses the first batches with two
 * different reasons. The page must show the counts and the reasons, follow a submission live, let an
 * operator retry from the page until everything is delivered, and offer nothing to a read-only key,
 * whose direct call is refused by the server anyway. The screenshots in the README come from here.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import webhook from '../../managers/webhook/index.ts';
import { startHarness, submit, type ApiHarness } from '../api/harness.ts';
import { startHttpSink, type HttpSink } from '../fakes/http-sink.ts';
import { chromiumSkipReason, launchChromium, type RunningBrowser } from '../helpers/chromium.ts';
import { waitFor } from '../helpers/wait-for.ts';

const skip = chromiumSkipReason();
if (skip) console.warn(`dashboard browser tests skipped: ${skip}`);
// The README's pictures are refreshed on request only (UPDATE_SCREENSHOTS=1): they carry times,
// so writing them on every run would leave every checkout modified.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1'
  ? join(import.meta.dirname, '../../docs/screenshots')
  : join(tmpdir(), `br-dashboard-screenshots-${process.pid}`);
const LONG = { timeout: 30_000 };

describe.skipIf(skip !== undefined)('dashboard in Chromium', () => {
  let sink: HttpSink;
  let h: ApiHarness;
  let chromium: RunningBrowser;

  beforeAll(async () => {
    sink = await startHttpSink();
    // Three batches of ten: the first two are refused for two different reasons (aborted), the third delivered.
    sink.script(
      { status: 422, body: 'field "email" is missing' },
      { status: 400, body: 'field "phone" is not a phone number' },
    );
    h = await startHarness({
      destinations: [
        { id: 'crm-hooks', manager: webhook, config: { url: `${sink.url}/hook` }, tuning: { maxEventsPerUpload: 10 } },
        { id: 'audit-feed', manager: webhook, routed: false, config: { url: `${sink.url}/audit` } },
        { id: 'broken-hook', manager: webhook, error: 'destination "broken-hook": config field "url" is missing; set it to the receiver\'s address' },
      ],
      keys: { operator: { scopes: ['admin'] }, viewer: { scopes: ['jobs:read'] } },
    });
    const accepted = await submit(h, 'crm-hooks', 30, { key: h.keys.operator });
    expect(accepted.status).toBe(202);
    await waitFor(async () => {
      const d = (await h.call('GET', '/v1/destinations/crm-hooks', { key: h.keys.operator })).body;
      return d.backlog.aborted === 20 && d.backlog.succeeded === 10;
    }, { timeoutMs: 20_000, message: '20 jobs aborted and 10 delivered' });
    chromium = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    await sink?.close();
  });

  async function signIn(key: string): Promise<Page> {
    const page = await chromium.context.newPage();
    await page.goto(`${h.url}/`);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.getByRole('heading', { name: 'Destinations' }).waitFor();
    return page;
  }
  const cell = (page: Page, destination: string, state: string) => page.locator(`tr[data-destination="${destination}"] td[data-state="${state}"]`);

  it('shows every destination with counts, a broken config with its reason, and the figures', async () => {
    const page = await signIn(h.keys.operator!);
    await cell(page, 'crm-hooks', 'aborted').filter({ hasText: /^20$/ }).waitFor();
    expect(await cell(page, 'crm-hooks', 'succeeded').textContent()).toBe('10');
    const broken = page.locator('tr[data-destination="broken-hook"]');
    expect(await broken.textContent()).toContain('broken config');
    expect(await broken.textContent()).toContain('config field "url" is missing');
    const chart = page.locator('tr[data-destination="crm-hooks"] svg[role="img"]');
    expect(await chart.getAttribute('aria-label')).toMatch(/^10 delivered in the last hour/);
    // The key never reaches the URL or the page's markup.
    expect(page.url()).not.toContain(h.keys.operator);
    expect(await page.content()).not.toContain(h.keys.operator);
    await page.screenshot({ path: join(SCREENSHOTS, 'overview.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('groups failures by reason on the destination page, and retry from the page brings the jobs back', async () => {
    const page = await signIn(h.keys.operator!);
    await page.getByRole('link', { name: 'crm-hooks' }).click();
    const email = page.locator('table.failures tr', { hasText: 'field "email" is missing' });
    const phone = page.locator('table.failures tr', { hasText: 'field "phone" is not a phone number' });
    await email.waitFor();
    expect(await email.getAttribute('data-reason-count')).toBe('10');
    expect(await phone.getAttribute('data-reason-count')).toBe('10');
    expect(await email.textContent()).toContain('422');
    await page.screenshot({ path: join(SCREENSHOTS, 'destination.png'), fullPage: true });

    // Retry one reason: the confirmation states the count, and only that group comes back.
    await email.getByRole('button', { name: 'Retry (10)' }).click();
    const dialog = page.getByRole('dialog', { name: 'Retry' });
    expect(await dialog.textContent()).toContain('This touches 10 jobs');
    // The "Requeued 10 jobs." note lives in the group's row, which the page's reload after the
    // retry removes (those jobs are no longer aborted): on a busy machine it can be gone before it
    // is looked for, so the count is read from the answer the page got.
    const retried = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/retry'));
    await dialog.getByRole('button', { name: 'Yes, retry' }).click();
    expect(await (await retried).json()).toMatchObject({ requeued: 10 });
    await page.locator('dd[data-state="succeeded"]', { hasText: /^20$/ }).waitFor(LONG);
    await email.waitFor({ state: 'detached' });

    // Then all that is left, with the button that retries every aborted job.
    await page.getByRole('button', { name: 'Retry all aborted (10)' }).click();
    const all = page.getByRole('dialog', { name: 'Retry all aborted' });
    expect(await all.textContent()).toContain('This touches 10 jobs');
    await all.getByRole('button', { name: 'Yes, retry all aborted' }).click();
    await page.locator('dd[data-state="succeeded"]', { hasText: /^30$/ }).waitFor(LONG);
    expect(await page.locator('dd[data-state="aborted"]').textContent()).toBe('0');
    expect(await page.getByText('No aborted jobs.').count()).toBe(1);
    expect(sink.stats().uniqueIds).toBe(30);
    await page.close();
  }, 90_000);

  it('follows a submission live and cancels waiting jobs after a confirmation', async () => {
    const accepted = await submit(h, 'audit-feed', 5, { key: h.keys.operator });
    const page = await signIn(h.keys.operator!);
    await page.goto(`${h.url}/ui/#/submissions/${accepted.body.submissionId}`);
    const progress = page.getByTestId('submission-progress');
    await progress.locator('progress[value="0"]').waitFor();
    expect(await page.locator('dd[data-state="waiting"]').textContent()).toBe('5');

    // Cancel from the destination page in a second tab; the first one moves on its own (SSE).
    const other = await signIn(h.keys.operator!);
    await other.goto(`${h.url}/ui/#/destinations/audit-feed`);
    await other.getByRole('button', { name: 'Cancel waiting (5)' }).click();
    const dialog = other.getByRole('dialog', { name: 'Cancel waiting' });
    expect(await dialog.textContent()).toContain('This touches 5 jobs');
    await dialog.getByRole('button', { name: 'Yes, cancel waiting' }).click();
    await other.getByText('Cancelled 5 jobs.').waitFor();

    await progress.locator('progress[value="100"]').waitFor(LONG);
    expect(await page.locator('dd[data-state="cancelled"]').textContent()).toBe('5');
    await page.getByText('Every job is final.').waitFor();
    await other.close();
    await page.close();
  }, 60_000);

  it('offers no action to a read-only key, and the server refuses its call anyway', async () => {
    const page = await signIn(h.keys.viewer!);
    await page.goto(`${h.url}/ui/#/destinations/crm-hooks`);
    await page.getByTestId('no-actions').waitFor();
    expect(await page.getByRole('button', { name: /Retry|Cancel waiting/ }).count()).toBe(0);
    const status = await page.evaluate(async () => {
      const key = sessionStorage.getItem('batch-router.api-key');
      const res = await fetch('/v1/destinations/crm-hooks/retry', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
      return res.status;
    });
    expect(status).toBe(403);
    // Nor does it see payloads on a job page.
    const { body } = await h.call('GET', '/v1/jobs?destinationId=crm-hooks&limit=1', { key: h.keys.viewer });
    await page.goto(`${h.url}/ui/#/jobs/${body.jobs[0].id}`);
    await page.getByText('Hidden: this key lacks the jobs:read-payload scope.').waitFor();
    await page.close();
  }, 60_000);

  it('lists jobs with filters and pages, and shows a job\'s timeline with its payload to an admin', async () => {
    const page = await signIn(h.keys.operator!);
    await page.goto(`${h.url}/ui/#/jobs?destinationId=crm-hooks&state=succeeded`);
    await page.locator('table.jobs tbody tr').first().waitFor();
    expect(await page.locator('table.jobs tbody tr').count()).toBe(30);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.locator('table.jobs tbody tr a').first().click();
    await page.getByText('Final: succeeded').waitFor();
    expect(await page.locator('ol.timeline').textContent()).toMatch(/Upload #\d+/);
    expect(await page.locator('pre.payload').textContent()).toContain('"id": "e-');
    await page.close();
  }, 60_000);

  it('reads well at 390 px, answers the keyboard, and serves the API reference offline', async () => {
    const page = await signIn(h.keys.operator!);
    await page.setViewportSize({ width: 390, height: 844 });
    await cell(page, 'crm-hooks', 'succeeded').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SCREENSHOTS, 'overview-phone.png'), fullPage: true });
    // Keyboard: the first Tab reaches the skip link, Enter moves focus to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');

    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${h.url}/docs`);
    await page.getByRole('heading', { name: /batch-router API/ }).waitFor();
    await page.getByText('/v1/destinations/{id}/failures').first().click();
    await page.getByText('Aborted jobs of a destination grouped by reason').first().waitFor();
    expect(requests.every((url) => url.startsWith(h.url))).toBe(true);
    await page.close();
  }, 60_000);
});
