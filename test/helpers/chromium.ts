// Debian's chromium for the browser tests, driven by playwright-core (no bundled browser download).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The chromium binary, or null when none is installed (the browser tests are then skipped with that reason). */
export function chromiumPath(): string | null {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p)) ?? null;
}

export const NO_CHROMIUM = 'no chromium binary (apt-get install chromium, or set CHROMIUM_PATH): browser tests skipped';

/**
 * One Chromium for a test file's tests: launched before them when there is a binary (when there is
 * none, NO_CHROMIUM is warned at once), closed after them. `browser()` is null without a binary.
 */
export function fileBrowser(): { executablePath: string | null; browser: () => Browser | null } {
  const executablePath = chromiumPath();
  if (!executablePath) console.warn(NO_CHROMIUM);
  let browser: Browser | null = null;
  beforeAll(async () => {
    if (executablePath) browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
  });
  return { executablePath, browser: () => browser };
}
