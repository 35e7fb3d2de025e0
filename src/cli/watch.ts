// `--watch`: redraw a listing every N seconds until Ctrl-C (or, for tests and scripts, N times).
import { InvalidArgumentError } from 'commander';
import type { CliIo } from './context.js';

/** Clear the screen and home the cursor (what watch(1) does between frames). */
const CLEAR = '\u001b[H\u001b[2J';

export interface WatchOptions {
  intervalMs: number;
  /** Stop after this many redraws; undefined = until interrupted. */
  count?: number;
  /** Shown in the header line, e.g. "nodepool list". */
  title: string;
}

/** Renders, prints, sleeps on the injected clock, repeats. The header says when the frame was taken. */
export async function watch(io: CliIo, opts: WatchOptions, render: () => Promise<string>): Promise<void> {
  for (let i = 0; opts.count === undefined || i < opts.count; i++) {
    if (i > 0) await io.clock.sleep(opts.intervalMs);
    const body = await render();
    const header = `Every ${opts.intervalMs / 1000}s: ${opts.title}    ${new Date(io.clock.now()).toISOString()}\n\n`;
    io.out.write(CLEAR + header + (body.endsWith('\n') ? body : `${body}\n`));
  }
}

/** `--watch [seconds]`: commander gives true without a value. */
export function watchIntervalMs(value: string | boolean | undefined): number | null {
  if (value === undefined || value === false) return null;
  if (value === true) return 2000;
  const s = Number(value);
  if (!Number.isFinite(s) || s <= 0) throw new Error(`--watch: expected seconds > 0, got ${value}`);
  return s * 1000;
}

/** `--count N`: a positive whole number (an operator error otherwise, reported by commander). */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return Number(value);
}
