// The web console in a real browser (Debian's Chromium, headless, driven by playwright-core)
// against the real services that integration-tests/tests/console.rs started. Run by that test;
// everything it needs comes in the environment:
//
//   CONSOLE_URL        the gateway's console, e.g. http://127.0.0.1:41234/console/
//   CONSOLE_TOKEN      an admin JWT of the test's tenant
//   CONSOLE_TENANT     that tenant
//   WEBHOOK_URL        ingest's URL of the Razorpay source the test created
//   WEBHOOK_BODY       a Razorpay webhook body, and its X-Razorpay-Signature and event id
//   WEBHOOK_SIGNATURE
//   WEBHOOK_EVENT_ID
//   WEBHOOK_SUBJECT    the payment id the event's subject and payload carry
//   ENDPOINT_ID        the endpoint that receives razorpay.* (its delivery must show)
//   CHROMIUM           the browser binary (default /usr/bin/chromium)
//   ARTIFACTS          a directory for screenshots
//
// Exits 0 when every step passed; otherwise prints the failed step, saves a screenshot of the
// page and prints its path, and exits 1.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (/** @type {string} */ name, /** @type {string} */ fallback = '') => {
  const value = process.env[name] ?? fallback;
  if (!value) throw new Error(`console.spec.mjs: ${name} is not set (run by integration-tests/tests/console.rs)`);
  return value;
};
const CONSOLE_URL = env('CONSOLE_URL');
const TOKEN = env('CONSOLE_TOKEN');
const TENANT = env('CONSOLE_TENANT');
const ENDPOINT_ID = env('ENDPOINT_ID');
const SUBJECT = env('WEBHOOK_SUBJECT');
const ARTIFACTS = env('ARTIFACTS');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
/** How long the event may take from the webhook to the live list, and other waits. */
const LIVE_DEADLINE_MS = 30_000;
const STEP_MS = 20_000;

mkdirSync(ARTIFACTS, { recursive: true });
let step = 'launch Chromium';
const log = (/** @type {string} */ text) => console.log(`console.spec: ${text}`);

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // Root in CI: Chromium's sandbox needs an unprivileged user.
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
/** @type {import('playwright-core').Page | null} */
let current = null;
/** Problems the page reported: script errors, CSP violations, failed loads. */
const pageErrors = [];

try {
  // --- A bad token is refused with the gateway's problem, shown on the sign-in form. ------
  step = 'a bad token shows the sign-in error';
  const refused = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  current = await refused.newPage();
  await current.goto(`${CONSOLE_URL}#token=not-a-valid-jwt`);
  const signinError = current.getByTestId('signin-error');
  await signinError.waitFor({ state: 'visible', timeout: STEP_MS });
  const errorText = await signinError.innerText();
  expect(/401/.test(errorText), `the sign-in error names the 401: ${errorText}`);
  expect(!current.url().includes('not-a-valid-jwt'), `the token left the address bar: ${current.url()}`);
  expect(await current.getByTestId('nav').isHidden(), 'nothing but the sign-in form is shown');
  await current.screenshot({ path: join(ARTIFACTS, 'signin-error.png') });
  await refused.close();

  // --- Signed in from the link: the live view connects. ------------------------------------
  step = 'sign in from #token= and connect the live stream';
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  current = await context.newPage();
  const page = current;
  page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() < 400) return;
    const path = new URL(response.url()).pathname;
    // An event seen live can be opened before the audit writer has stored it: the console
    // shows the live copy and asks again, so a 404 there is an answer, not a fault.
    if (response.status() === 404 && /^\/v1\/events\/[^/]+(\/deliveries)?$/.test(path)) return;
    pageErrors.push(`${response.status()} from ${path}`);
  });
  page.on('console', (message) => {
    // Failed responses are judged above, by their address; Chromium's own line about them
    // does not say which request it was.
    if (message.type() !== 'error' || message.text().startsWith('Failed to load resource:')) return;
    pageErrors.push(`console error: ${message.text()}`);
  });
  await page.goto(`${CONSOLE_URL}#token=${encodeURIComponent(TOKEN)}`);
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: STEP_MS });
  expect(!page.url().includes('token='), `the token was removed from the address bar: ${page.url()}`);
  expect(new URL(page.url()).hash === '#/live', `the live view is the address: ${page.url()}`);
  expect((await page.getByTestId('tenant').innerText()) === TENANT, 'the tenant is shown');
  const stored = await page.evaluate(() => sessionStorage.getItem('switchyard.console.token'));
  expect(stored === TOKEN, 'the token is kept in sessionStorage');
  await page.getByTestId('live-empty').waitFor({ state: 'visible', timeout: STEP_MS });
  log('live stream connected');

  // --- A signed Razorpay webhook shows up live. --------------------------------------------
  step = 'send the signed Razorpay webhook to ingest';
  const eventId = await sendWebhook();
  log(`ingest accepted the webhook as ${eventId}`);
  step = `event ${eventId} appears in the live stream within ${LIVE_DEADLINE_MS / 1000} s`;
  const row = page.locator(`[data-testid="live-event"][data-event-id="${eventId}"]`);
  await row.waitFor({ state: 'visible', timeout: LIVE_DEADLINE_MS });
  const rowText = await row.innerText();
  expect(rowText.includes('razorpay.payment.captured'), `the row shows the type: ${rowText}`);
  expect(rowText.includes(SUBJECT), `the row shows the subject: ${rowText}`);
  await page.screenshot({ path: join(ARTIFACTS, 'live.png') });

  // --- Its detail: the CloudEvent, the payload, the delivery attempts. ---------------------
  step = 'open the event detail from the live row';
  await row.getByRole('link').click();
  await page.waitForURL((url) => url.hash === `#/events/${encodeURIComponent(eventId)}`, { timeout: STEP_MS });
  const payload = page.getByTestId('event-payload');
  await payload.waitFor({ state: 'visible', timeout: STEP_MS });
  const payloadText = await payload.innerText();
  expect(payloadText.includes(SUBJECT) && payloadText.includes('"amount": 500'), `the payload is pretty-printed: ${payloadText}`);
  expect((await page.getByTestId('detail-id').innerText()) === eventId, 'the detail shows the event id');
  step = 'the detail shows the event stored and its successful delivery';
  await page.getByTestId('deliveries').waitFor({ state: 'visible', timeout: STEP_MS });
  await page.getByTestId('detail-notice').waitFor({ state: 'hidden', timeout: LIVE_DEADLINE_MS });
  const delivered = page.locator('[data-testid="delivery"][data-outcome="succeeded"]');
  await delivered.first().waitFor({ state: 'visible', timeout: LIVE_DEADLINE_MS });
  const deliveryText = await delivered.first().innerText();
  expect(deliveryText.includes(ENDPOINT_ID) && deliveryText.includes('200'), `the attempt names its endpoint and status: ${deliveryText}`);
  await page.screenshot({ path: join(ARTIFACTS, 'detail.png'), fullPage: true });
  log('detail shows the payload and the delivery');

  // --- Search finds it. --------------------------------------------------------------------
  step = 'search by type finds the event';
  await page.getByRole('link', { name: 'Events', exact: true }).first().click();
  await page.getByTestId('search-type').fill('razorpay.payment.*');
  await page.getByTestId('search-submit').click();
  await page.locator(`[data-testid="search-row"][data-event-id="${eventId}"]`).waitFor({ timeout: STEP_MS });

  // --- Endpoints: create (secret once), edit with If-Match, pause, delete. -----------------
  step = 'create an endpoint and see its secret once';
  await page.goto(`${CONSOLE_URL}#/endpoints`);
  await page.locator(`[data-testid="endpoint-row"][data-id="${ENDPOINT_ID}"]`).waitFor({ timeout: STEP_MS });
  await page.getByTestId('endpoint-create').click();
  const form = page.getByTestId('endpoint-form');
  await form.getByLabel('ID').fill('console-ui');
  // Loopback and a type nothing publishes: nothing is ever delivered to it.
  await form.getByLabel('URL').fill('http://127.0.0.1:9/console-ui');
  await form.getByLabel('Event types').fill('console.nothing');
  await form.getByTestId('form-submit').click();
  const secret = page.getByTestId('secret-value');
  await secret.waitFor({ timeout: STEP_MS });
  expect((await secret.inputValue()).startsWith('whsec_'), 'the signing secret is shown');
  await page.screenshot({ path: join(ARTIFACTS, 'secret.png') });
  await page.getByTestId('secret-once').getByRole('button', { name: 'I have stored it' }).click();
  const created = page.locator('[data-testid="endpoint-row"][data-id="console-ui"]');
  await created.waitFor({ timeout: STEP_MS });

  step = 'edit the endpoint (If-Match) and pause it';
  await created.getByTestId('endpoint-edit').click();
  await page.getByTestId('endpoint-form').getByLabel('Event types').fill('console.nothing, console.never');
  await page.getByTestId('endpoint-form').getByTestId('form-submit').click();
  await created.getByText('console.never').waitFor({ timeout: STEP_MS });
  await created.getByTestId('endpoint-pause').click();
  await created.locator('.badge.paused').waitFor({ timeout: STEP_MS });
  await page.screenshot({ path: join(ARTIFACTS, 'endpoints.png') });

  step = 'delete the endpoint';
  await created.getByTestId('endpoint-delete').click();
  await page.getByTestId('confirm-yes').click();
  await created.waitFor({ state: 'detached', timeout: STEP_MS });

  // --- Sources and the DLQ render (the source made by the test is listed). -----------------
  step = 'the sources view lists the Razorpay source';
  await page.getByRole('link', { name: 'Sources' }).click();
  await page.locator('[data-testid="source-row"][data-id="razorpay"]').waitFor({ timeout: STEP_MS });
  await page.screenshot({ path: join(ARTIFACTS, 'sources.png') });
  step = 'the DLQ view shows its empty state';
  await page.getByRole('link', { name: 'Dead letters' }).click();
  await page.getByTestId('dlq-empty').waitFor({ timeout: STEP_MS });

  step = 'no script error or policy violation on the page';
  expect(pageErrors.length === 0, `the page reported: ${pageErrors.join(' | ')}`);

  step = 'sign out';
  await page.getByTestId('sign-out').click();
  await page.getByTestId('signin').waitFor({ timeout: STEP_MS });
  const left = await page.evaluate(() => sessionStorage.getItem('switchyard.console.token'));
  expect(left === null, 'sign-out forgets the token');
  log('every step passed');
  await browser.close();
} catch (error) {
  const path = join(ARTIFACTS, 'failure.png');
  let saved = false;
  try {
    if (current && !current.isClosed()) {
      await current.screenshot({ path, fullPage: true });
      saved = true;
    }
  } catch {
    // The page is gone; the message says what failed.
  }
  console.error(`console.spec: FAILED at step "${step}": ${error instanceof Error ? error.message : error}`);
  if (pageErrors.length) console.error(`console.spec: the page reported: ${pageErrors.join(' | ')}`);
  if (saved) console.error(`console.spec: screenshot of the page: ${path}`);
  await browser.close().catch(() => {});
  process.exit(1);
}

/**
 * Fails the step unless `condition` holds.
 * @param {boolean} condition
 * @param {string} what
 */
function expect(condition, what) {
  if (!condition) throw new Error(`expected ${what}`);
}

/**
 * Posts the signed webhook the Rust side prepared; ingest may answer 404 for a few seconds
 * until the source created through the API reaches it.
 * @returns {Promise<string>} The event id.
 */
async function sendWebhook() {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const response = await fetch(env('WEBHOOK_URL'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-razorpay-signature': env('WEBHOOK_SIGNATURE'),
        'x-razorpay-event-id': env('WEBHOOK_EVENT_ID'),
      },
      body: env('WEBHOOK_BODY'),
    });
    const text = await response.text();
    if (response.status === 202) return JSON.parse(text).id;
    if (Date.now() > deadline) throw new Error(`ingest answered ${response.status}: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
