// What the browser drivers (browser.js, webapp_browser.js) share: a
// headless chromium, and the user's part on oidc-provider's pages (its
// devInteractions): the device flow's code and confirmation, the sign-in
// (any password is accepted) and the consent.

import { chromium } from 'playwright-core';

// Debian's chromium, headless. XO_TEST_CHROMIUM names another binary.
export function launchBrowser(timeoutMs) {
  return chromium.launch({
    executablePath: process.env.XO_TEST_CHROMIUM || '/usr/bin/chromium',
    // Root (as in CI) cannot use chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    timeout: timeoutMs,
  });
}

// Submits a form by clicking its button; returns the response of the page
// it leads to.
async function submit(page, button) {
  const [resp] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator(button).first().click(),
  ]);
  // The last hop (to a client's redirect URI) may still be loading.
  await page.waitForLoadState('load');
  return resp;
}

// Acts on the provider's page the browser is at, as the user: enters
// userCode where the device flow asks for it, confirms the device, signs
// in as login, and gives consent (or, with decline, takes the consent
// page's abort route). Returns the response of the page that follows (null
// when there is none to be had), or false when the page asks for nothing
// of these (a success page, say).
export async function actAtProvider(page, { login, userCode, decline, timeoutMs }) {
  if (await page.locator('form[id="op.deviceInputForm"]').count() > 0) {
    if (!userCode) throw new Error(`the provider asks for a device code at ${page.url()}`);
    await page.fill('input[name=user_code]', userCode);
    return submit(page, 'button[form="op.deviceInputForm"]');
  }
  if (await page.locator('form[id="op.deviceConfirmForm"]').count() > 0) {
    return submit(page, 'button[form="op.deviceConfirmForm"]:not([name=abort])');
  }
  // Looked for, not waited for: the page has loaded, and a page without
  // the field (the device flow's success page) must not cost a timeout.
  const prompt = await page.locator('input[name=prompt]').count() > 0
    ? await page.locator('input[name=prompt]').first().getAttribute('value', { timeout: timeoutMs })
    : null;
  if (prompt === 'login') {
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'secret');
  } else if (prompt === 'consent' && decline) {
    // oidc-provider's "Cancel" link: the interaction's abort route.
    const action = await page.locator('form').first().getAttribute('action');
    const nav = page.waitForNavigation({ waitUntil: 'load' });
    await page.goto(new URL(`${action}/abort`, page.url()).href);
    return nav.catch(() => null);
  } else if (prompt !== 'consent') {
    return false;
  }
  return submit(page, 'form button[type=submit]');
}
