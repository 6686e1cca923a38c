/**
 * Debian's Chromium, driven by playwright-core, as every browser test starts it (`.ci/run`
 * installs it): headless, no sandbox (CI runs as root in a container), nothing fetched from the
 * network. A test without it skips with a warning naming the path.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

/** Launch options for chromium.launch and chromium.launchPersistentContext. */
export const CHROMIUM_OPTIONS = {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
};

export function launchChromium(): Promise<Browser> {
  return chromium.launch(CHROMIUM_OPTIONS);
}
