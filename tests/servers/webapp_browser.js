// The administrator of the example web application
// (contrib/python/examples/webapp.py), played by a real browser: Debian's
// chromium, headless, driven by playwright-core. In the application's
// pages it adds an account; it reads the device code and the address the
// application shows, opens that address in a second tab and acts as the
// user at oidc-provider (enters the code, confirms, signs in as the
// account's address, consents); back in the application's tab it waits
// until the page says the account is logged in, and sends a test mail.
//
// Usage: node webapp_browser.js --app URL --client-id ID --email EMAIL
//          --issuer URL [--to ADDRESS] [--timeout S]
// Prints one line of JSON on stdout:
//   {"ok":true,"user_code":...,"verification_uri":...,"provider_title":...,
//    "logged_in":...,"sent":...,"accounts":...}
// where logged_in and sent are the application's notices and accounts the
// text of its table of accounts at the end. Exits 1 with
// {"ok":false,"error":...,"page":...} when a page does not behave.

import { parseArgs } from 'node:util';

import { actAtProvider, launchBrowser } from './provider_pages.js';

const { values: opts } = parseArgs({
  options: {
    app: { type: 'string' },
    'client-id': { type: 'string' },
    email: { type: 'string' },
    issuer: { type: 'string' },
    to: { type: 'string' },
    timeout: { type: 'string', default: '60' },
  },
});

if (!opts.app || !opts['client-id'] || !opts.email || !opts.issuer) {
  console.error('usage: node webapp_browser.js --app URL --client-id ID --email EMAIL '
    + '--issuer URL [--to ADDRESS] [--timeout S]');
  process.exit(2);
}

const timeoutMs = Number(opts.timeout) * 1000;

// Clicks and waits for the page that follows; the application's error
// message, when it shows one, becomes the error.
async function clickThrough(page, button) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
  if (await page.locator('#error').count() > 0) {
    throw new Error(`the application says: ${await page.locator('#error').innerText()}`);
  }
}

async function run() {
  const browser = await launchBrowser(timeoutMs);
  let current = null;
  try {
    const app = await browser.newPage();
    current = app;
    app.setDefaultTimeout(timeoutMs);
    await app.goto(opts.app);

    // The administrator adds the account.
    await app.selectOption('select[name=provider]', 'generic');
    await app.fill('input[name=client_id]', opts['client-id']);
    await app.fill('input[name=email]', opts.email);
    await app.fill('input[name=issuer]', opts.issuer);
    await clickThrough(app, app.locator('#add'));
    const userCode = (await app.locator('#user_code').innerText()).trim();
    const verificationUri = await app.locator('#verification_uri').getAttribute('href');

    // ...and approves the login at the provider, in another tab.
    const provider = await browser.newPage();
    current = provider;
    provider.setDefaultTimeout(timeoutMs);
    await provider.goto(verificationUri);
    for (let step = 0; step < 8; step++) {
      if (await actAtProvider(provider, { login: opts.email, userCode, timeoutMs }) === false) break;
    }
    const providerTitle = await provider.title();
    if (!/Success/.test(providerTitle)) throw new Error(`the provider ended at "${providerTitle}"`);

    // The application's page reloads itself until the login is done.
    current = app;
    await app.waitForSelector('#notice:has-text("logged in")');
    const loggedIn = (await app.locator('#notice').innerText()).trim();

    // A test mail through the new account.
    const row = app.locator('tr', { has: app.locator(`td:text-is("${opts.email}")`) }).first();
    if (opts.to) await row.locator('input[name=to]').fill(opts.to);
    await clickThrough(app, row.locator('button[name=send]'));
    const sent = (await app.locator('#notice').innerText()).trim();
    const accounts = (await app.locator('table').innerText()).trim();

    process.stdout.write(`${JSON.stringify({
      ok: true,
      user_code: userCode,
      verification_uri: verificationUri,
      provider_title: providerTitle,
      logged_in: loggedIn,
      sent,
      accounts,
    })}\n`);
  } catch (err) {
    // What the browser showed when it went wrong.
    err.page = current ? await current.locator('body').innerText().catch(() => null) : null;
    throw err;
  } finally {
    await browser.close();
  }
}

run().catch((err) => {
  const page = err.page ? err.page.slice(0, 1000) : null;
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(err && err.stack || err), page })}\n`);
  process.exit(1);
});
