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

import { actAtProvider, launchBrowser } from './provider_pages.js';

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
  const browser = await launchBrowser(timeoutMs);
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
      const resp = await actAtProvider(page, { login: opts.login, decline: opts.decline, timeoutMs });
      if (resp === false) {
        throw new Error(`unexpected page at ${page.url()}: ${(await page.content()).slice(0, 400)}`);
      }
      response = resp || response;
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
