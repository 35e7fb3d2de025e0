// Debian's chromium for the browser tests, driven by playwright-core (no bundled browser download).
import { existsSync } from 'node:fs';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The chromium binary, or null when none is installed (the browser tests are then skipped with that reason). */
export function chromiumPath(): string | null {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p)) ?? null;
}

export const NO_CHROMIUM = 'no chromium binary (apt-get install chromium, or set CHROMIUM_PATH): browser tests skipped';
