// A real browser for the console's tests: Debian's Chromium (/usr/bin/chromium; .ci/run installs it)
// driven by playwright-core, headless, with a profile of its own, and without the background traffic
// (updates, sync, safe-browsing lists) that this machine's closed network would refuse.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export const browserMissing = existsSync(CHROMIUM)
  ? undefined
  : `no Chromium at ${CHROMIUM}: the console's browser tests are skipped (apt-get install -y chromium, as .ci/run does)`;

/** Screenshots and other artifacts of a run (git ignores the folder). */
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

/** Headless Chromium; playwright gives each launch a fresh profile (--user-data-dir) of its own, removed at close. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string, path = join(ARTIFACTS, `${name}.png`)): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path, fullPage: true });
  return path;
}
