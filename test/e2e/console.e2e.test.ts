// The operator console in a real browser (Chromium through playwright-core) against a started server on
// the suite's driver: it lists every processor, pauses one (the API then says PAUSED), shows lag rising
// under load and falling after resume, starts a rebuild that reaches its swap, shows a FAILED one first
// with its error, fits a phone's screen, and tells a wrong token apart from a right one. Screenshots go
// to test/artifacts/; UPDATE_README_SCREENSHOT=1 also writes docs/console.png.
import { copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/build.ts';
import { browserMissing, launchBrowser, screenshot } from '../support/browser.ts';
import { driverName } from '../support/db.ts';
import { createOrderInput } from '../support/orders.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { signToken, TEST_SECRET } from '../support/tokens.ts';
import { describeIf } from '../support/skip.ts';
import { untilWithin } from '../support/until.ts';

const PROCESSORS = ['orders', 'customer_summaries', 'products', 'order_fulfilments', 'fulfilment'];
const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { consistencyToken } }`;
const input = (customerId: string) => ({ input: createOrderInput({ customerId }) });
const README_SCREENSHOT = fileURLToPath(new URL('../../docs/console.png', import.meta.url));

/** The page's row of a processor, and what it shows. */
const row = (page: Page, name: string) => page.locator(`tbody[data-processor="${name}"]`);
const shownState = (page: Page, name: string, state: string) =>
  page.locator(`tbody[data-processor="${name}"][data-state="${state}"]`).waitFor({ timeout: 20_000 });
const shownLag = async (page: Page, name: string) =>
  Number(((await row(page, name).getByTestId('lag-events').textContent()) ?? '').replaceAll(',', ''));

const until = untilWithin({ timeoutMs: 20_000, intervalMs: 50 });

describeIf(browserMissing, `the operator console in Chromium, on ${driverName}`, () => {
  let browser: Browser;
  let s: TestServer;
  let page: Page;
  /** What the page printed as an error, a refused CSP among them. */
  const problems: string[] = [];

  beforeAll(async () => {
    await buildConsole({ quiet: true });
    [browser, s] = await Promise.all([launchBrowser(), startTestServer()]);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  const status = async (name: string) =>
    (await s.gql(`{ projections { name state lagEvents } }`)).data.projections.find((p: { name: string }) => p.name === name);

  it('lists every projection and process manager, with no token in open development mode', async () => {
    const response = await page.goto(`${s.origin}/console/`);
    expect(response?.headers()['content-security-policy']).toMatch(/connect-src 'self'/);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    expect(await page.locator('tbody[data-processor]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-processor')))).toEqual(
      PROCESSORS,
    );
    expect(await row(page, 'fulfilment').getByRole('cell').first().textContent()).toBe('process manager');
    expect(await row(page, 'fulfilment').getByRole('button', { name: 'Rebuild fulfilment' }).count()).toBe(0);
    await screenshot(page, 'console-list');
    expect(problems).toEqual([]);
  });

  it('pausing from the page (by keyboard) makes the API report PAUSED, and the page shows it', async () => {
    await page.getByRole('button', { name: 'Pause customer_summaries' }).focus();
    await page.keyboard.press('Enter');
    await shownState(page, 'customer_summaries', 'PAUSED');
    expect((await status('customer_summaries')).state).toBe('PAUSED');
    expect(await page.getByTestId('outcome').textContent()).toMatch(/customer_summaries: paused/);
  });

  it('lag rises under load while paused, and falls to nothing after resume', async () => {
    const orders = 40;
    for (let i = 0; i < orders; i++) expect((await s.gql(CREATE, input(`load-${i % 5}`))).errors).toBeUndefined();
    await until(
      'the page shows the paused projection behind by every order',
      async () => (await shownLag(page, 'customer_summaries')) >= orders,
    );
    expect((await status('customer_summaries')).lagEvents).toBeGreaterThanOrEqual(orders);
    // The page's statuses are read at most every so often: the one that showed the last order may have
    // been read before `orders` projected it.
    await until('the page shows the running projection caught up', async () => (await shownLag(page, 'orders')) === 0);
    await until('the lag chart has a point above zero', async () =>
      /[1-9]\d* events? and/.test((await page.getByRole('img', { name: /Lag of customer_summaries/ }).getAttribute('aria-label')) ?? ''),
    );
    await screenshot(page, 'console-lagging');

    await page.getByRole('button', { name: 'Resume customer_summaries' }).click();
    await shownState(page, 'customer_summaries', 'RUNNING');
    await until('the page shows the projection caught up', async () => (await shownLag(page, 'customer_summaries')) === 0);
    expect((await status('customer_summaries')).lagEvents).toBe(0);
  });

  it('a rebuild started from the page asks first, then reaches its swap', async () => {
    await page.getByRole('button', { name: 'Rebuild orders' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rebuild orders?' });
    await dialog.waitFor();
    await page.keyboard.press('Escape'); // cancelled: nothing happens
    await dialog.waitFor({ state: 'detached' });
    expect((await status('orders')).state).toBe('RUNNING');

    await page.getByRole('button', { name: 'Rebuild orders' }).click();
    await dialog.getByRole('button', { name: 'Rebuild orders' }).click();
    await page.getByTestId('outcome').filter({ hasText: 'orders: rebuilt, and swapped in' }).waitFor({ timeout: 30_000 });
    await shownState(page, 'orders', 'RUNNING');
    expect(await status('orders')).toMatchObject({ state: 'RUNNING', lagEvents: 0 });
  });

  it('shows a FAILED processor first, with its error', async () => {
    // An event whose data the projection cannot use, written past the command side's checks.
    await s.app.services.database.rows(sql`insert into events (stream_id, stream_type, version, type, schema_version, data)
      values ('poison', 'Order', 1, 'OrderCreated', 1, '{}'::jsonb)`);
    const first = page.locator('tbody[data-processor]:first-of-type');
    await page.locator('tbody[data-processor]:first-of-type[data-state="FAILED"]').waitFor({ timeout: 20_000 });
    expect(await first.locator('.error-row').textContent()).toMatch(/^Error: .+/);
    // One picture of the rows: every FAILED one before any other, and the API agrees the first failed.
    const shown = await page
      .locator('tbody[data-processor]')
      .evaluateAll((rows) => rows.map((r) => ({ name: r.getAttribute('data-processor'), state: r.getAttribute('data-state') })));
    const others = shown.findIndex((r) => r.state !== 'FAILED');
    if (others >= 0) expect(shown.slice(others).every((r) => r.state !== 'FAILED')).toBe(true);
    const failed = (await s.gql(`{ projections { name state } }`)).data.projections.filter((p: { state: string }) => p.state === 'FAILED');
    expect(failed.map((p: { name: string }) => p.name)).toContain(shown[0]!.name);
    await screenshot(page, 'console-failed');
    if (process.env.UPDATE_README_SCREENSHOT === '1') {
      // A settled picture: every processor has failed on the event or gone past it, and the page shows so.
      const settled = (rows: { state: string; lag: number }[]) => rows.every((r) => r.state === 'FAILED' || r.lag === 0);
      await until('every processor failed or caught up', async () =>
        settled(
          (await s.gql(`{ projections { state lagEvents } }`)).data.projections.map((p: any) => ({ state: p.state, lag: p.lagEvents })),
        ),
      );
      await until('the page shows it', async () =>
        settled(
          await page.locator('tbody[data-processor]').evaluateAll((rows) =>
            rows.map((r) => ({
              state: r.getAttribute('data-state') ?? '',
              lag: Number(r.querySelector('[data-testid="lag-events"]')?.textContent),
            })),
          ),
        ),
      );
      copyFileSync(await screenshot(page, 'console-readme'), README_SCREENSHOT);
    }
  });

  it('fits a phone-sized screen: one column, nothing wider than the screen', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      await phone.goto(`${s.origin}/console/`);
      await phone.locator('tbody[data-processor="orders"]').waitFor();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await phone.getByRole('button', { name: 'Pause orders' }).isVisible()).toBe(true);
      await screenshot(phone, 'console-phone');
    } finally {
      await phone.close();
    }
    expect(problems).toEqual([]);
  });
});

describeIf(browserMissing, `the console with JWT_SECRET, in Chromium, on ${driverName}`, () => {
  let browser: Browser;
  let s: TestServer;

  beforeAll(async () => {
    await buildConsole({ quiet: true });
    [browser, s] = await Promise.all([launchBrowser(), startTestServer({ JWT_SECRET: TEST_SECRET })]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('asks for a token, says clearly when one is wrong or not an operator’s, and keeps a good one for the tab', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${s.origin}/console/`);
    const field = page.getByLabel('Operator token');
    await field.waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/needs a token/);

    await field.fill(await signToken({ sub: 'ops', roles: ['admin'] }, { secret: 'another-secret-that-is-32-characters-or-more' }));
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('alert').filter({ hasText: 'The server refused this token' }).waitFor();
    await screenshot(page, 'console-wrong-token');

    await field.fill(await signToken({ sub: 'c-1', roles: ['customer'] }));
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('alert').filter({ hasText: "not an operator's or an admin's" }).waitFor();

    await field.fill(await signToken({ sub: 'ops', roles: ['admin'] }));
    await field.press('Enter');
    await page.locator('tbody[data-processor="orders"]').waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await page.reload(); // the token is kept for the tab
    await page.locator('tbody[data-processor="orders"]').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('converge.console.token'))).toMatch(/^ey/);
    await page.close();
  });
});

describe(`/console on the server, on ${driverName}`, () => {
  let on: TestServer;
  let off: TestServer;
  beforeAll(async () => {
    await buildConsole({ quiet: true });
    [on, off] = await Promise.all([startTestServer(), startTestServer({ CONSOLE: 'off' })]);
  }, 120_000);
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  it('serves the page and its hashed assets with their types and caching, and nothing else', async () => {
    const page = await fetch(`${on.origin}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html;charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    for (const asset of assets) {
      const response = await fetch(`${on.origin}${asset}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    expect((await fetch(`${on.origin}/console/nope.js`)).status).toBe(404);
    expect((await fetch(`${on.origin}/console/.source-hash`)).status).toBe(404);
    expect((await fetch(`${on.origin}/console/`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${on.origin}/consoles`)).status).toBe(404);
  });

  it('CONSOLE=off answers 404 saying how to turn it on', async () => {
    const response = await fetch(`${off.origin}/console/`);
    expect(response.status).toBe(404);
    expect(await response.text()).toMatch(/CONSOLE=on/);
  });
});
