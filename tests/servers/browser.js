// A real browser for the browser-flow tests: Debian's chromium, headless,
// driven by playwright-core (pinned by package-lock.json). It plays the
// user: opens the authorization URL, signs in at oidc-provider's login page,
// gives (or declines) consent, and follows the provider's redirect wherever
// it goes (the agent's loopback listener).
//
// Usage: node browser.js --url URL --login EMAIL [--decline] [--timeout S]
// Prints one line of JSON on stdout:
//   {"ok":true,"final_url":...,"status":N,"title":...,"text":...,
//    "callback_url":...}
// where callback_url is the first request that left the provider (the
// redirect to the client, with ?code=...&state=...). Exits 1 with
// {"ok":false,"error":...} when the pages do not behave.
//
// Environment: XO_TEST_CHROMIUM, the browser binary (default
// /usr/bin/chromium).

import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    login: { type: 'string' },
    decline: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '30' },
  },
});

if (!opts.url || !opts.login) {
  console.error('usage: node browser.js --url URL --login EMAIL [--decline] [--timeout S]');
  process.exit(2);
}

const timeoutMs = Number(opts.timeout) * 1000;
const issuer = new URL(opts.url).origin;

async function run() {
  const browser = await chromium.launch({
    executablePath: process.env.XO_TEST_CHROMIUM || '/usr/bin/chromium',
    // Root (as in CI) cannot use chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    timeout: timeoutMs,
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(timeoutMs);
    let callbackUrl = null;
    page.on('request', (req) => {
      if (callbackUrl === null && req.isNavigationRequest() &&
          new URL(req.url()).origin !== issuer) {
        callbackUrl = req.url();
      }
    });
    let response = await page.goto(opts.url);
    for (let step = 0; step < 8 && new URL(page.url()).origin === issuer; step++) {
      const prompt = await page.locator('input[name=prompt]').first()
        .getAttribute('value', { timeout: timeoutMs }).catch(() => null);
      if (prompt === 'login') {
        await page.fill('input[name=login]', opts.login);
        await page.fill('input[name=password]', 'secret');
      } else if (prompt === 'consent' && opts.decline) {
        // oidc-provider's "Cancel" link: the interaction's abort route.
        const action = await page.locator('form').first().getAttribute('action');
        const nav = page.waitForNavigation({ waitUntil: 'load' });
        await page.goto(new URL(action + '/abort', page.url()).href);
        response = await nav.catch(() => null) || response;
        continue;
      } else if (prompt !== 'consent') {
        throw new Error(`unexpected page at ${page.url()}: ${(await page.content()).slice(0, 400)}`);
      }
      const [resp] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.locator('form button[type=submit]').first().click(),
      ]);
      response = resp;
      // The last hop to the agent may still be loading.
      await page.waitForLoadState('load');
    }
    if (new URL(page.url()).origin === issuer) {
      throw new Error(`never left the provider; at ${page.url()}`);
    }
    // The response that rendered the page the browser ended on.
    let status = null;
    try {
      const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0]?.responseStatus);
      status = nav ?? (response ? response.status() : null);
    } catch { status = response ? response.status() : null; }
    const out = {
      ok: true,
      final_url: page.url(),
      status,
      title: await page.title(),
      text: (await page.locator('body').innerText()).trim(),
      callback_url: callbackUrl,
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await browser.close();
  }
}

run().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack || err) }) + '\n');
  process.exit(1);
});
