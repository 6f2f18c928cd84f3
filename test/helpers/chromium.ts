/**
 * Debian's Chromium driven by playwright-core, for the dashboard's end-to-end tests. Without the
 * browser the tests are skipped with a reason on a developer machine, but never in CI: there,
 * `.ci/run` installs Chromium and a missing one is a failure.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can (or must, in CI). */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH) || process.env.CI) return undefined;
  return `Chromium is not installed at ${CHROMIUM_PATH}: install it with "apt-get install -y chromium" (CI installs it and never skips)`;
}

export interface RunningBrowser {
  /** Each page opened in it is its own tab, with its own sessionStorage (so its own API key). */
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * A headless Chromium with a fresh profile and no traffic of its own (no updates, sync, QUIC).
 * Playwright takes the profile directory (--user-data-dir) as the persistent context's argument.
 */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<RunningBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'br-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
