// The status page in headless Chromium (Debian's chromium through playwright-core): it loads from
// the daemon with no other origin, its numbers are /api/labels' at the same instant, it follows a
// change without a reload, the chart draws the history, and a screenshot is kept as an artifact.
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { holdNode } from '../../src/operator-actions.js';
import type { LabelView } from '../../src/views.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { fileBrowser } from '../helpers/chromium.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

export const SCREENSHOT = resolve('test-artifacts/status-page.png');
const { executablePath, browser } = fileBrowser();

let h: PoolHarness | null = null;
let web: WebServer | null = null;
afterEach(async () => {
  await web?.close();
  await h?.close();
  web = h = null;
});

const FIELDS = ['minReady', 'ready', 'building', 'inUse', 'used', 'hold', 'deleting', 'deficit', 'demand'] as const;

/** The label table as the page shows it: label -> field -> text. */
async function pageLabels(page: Page): Promise<Record<string, Record<string, string>>> {
  const cells = await page.$$eval('#labels td[data-field]', (tds) => tds.map((td) => [(td as HTMLElement).dataset.label!, (td as HTMLElement).dataset.field!, td.textContent ?? '']));
  const out: Record<string, Record<string, string>> = {};
  for (const [label] of cells) out[label] ??= {};
  // In FIELDS order, so the page and the API compare as JSON.
  for (const label of Object.keys(out)) for (const f of FIELDS) out[label][f] = cells.find((c) => c[0] === label && c[1] === f)?.[2] ?? '(missing)';
  return out;
}

function asText(labels: LabelView[]): Record<string, Record<string, string>> {
  return Object.fromEntries(labels.map((l) => [l.name, Object.fromEntries(FIELDS.map((f) => [f, l[f] === null ? '' : String(l[f])]))]));
}

/** The page agrees with /api/labels read just before and just after it (no change in between). */
async function agrees(page: Page, url: string): Promise<boolean> {
  const before = asText((await (await fetch(`${url}/api/labels`)).json()) as LabelView[]);
  const shown = await pageLabels(page);
  const after = asText((await (await fetch(`${url}/api/labels`)).json()) as LabelView[]);
  if (JSON.stringify(before) !== JSON.stringify(after)) return false;
  // Thrown, not returned: waitFor reports the last difference when it gives up.
  if (JSON.stringify(shown) !== JSON.stringify(before)) throw new Error(`page ${JSON.stringify(shown)} != api ${JSON.stringify(before)}`);
  return true;
}

describe.skipIf(!executablePath)('status page in Chromium', () => {
  it('loads, matches /api/labels, updates without a reload, draws the history, and is screenshotted', { timeout: 90_000 }, async () => {
    h = await startPool({
      clouds: [
        { name: 'cloud-a', maxServers: 3 },
        { name: 'cloud-b', maxServers: 2 },
      ],
      labels: [
        { name: 'small', minReady: 2, providers: ['cloud-a', 'cloud-b'] },
        { name: 'large', minReady: 1, providers: ['cloud-b'] },
      ],
    });
    const daemon = await h.startDaemon();
    web = await startWebServer(daemon, { host: '127.0.0.1', port: 0, historyIntervalMs: 100, historySpanMs: 5000 });
    const url = web.url;
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3, { what: 'min-ready' });

    const page = await browser()!.newPage({ viewport: { width: 1280, height: 1000 } });
    const foreign: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => void (r.url().startsWith(url) || foreign.push(r.url())));
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      const res = await page.goto(`${url}/?interval=200`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-type']).toMatch(/^text\/html/);
      await page.waitForSelector('#live[data-updates]');
      await waitFor(() => agrees(page, url), { what: 'the page to show /api/labels' });
      expect((await pageLabels(page)).small).toMatchObject({ minReady: '2', ready: '2', hold: '0', demand: '' });
      // Labels x providers: small has cells for both providers, large only for cloud-b.
      expect(await page.$$eval('#labels td[data-provider]', (tds) => tds.map((td) => `${(td as HTMLElement).dataset.label}@${(td as HTMLElement).dataset.provider}`))).toEqual([
        'small@cloud-a',
        'small@cloud-b',
        'large@cloud-b',
      ]);
      expect(await page.$$eval('#providers tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.provider))).toEqual(['cloud-a', 'cloud-b']);

      // A change made elsewhere (an operator hold) shows up without a reload.
      const updates = Number(await page.$eval('#live', (e) => (e as HTMLElement).dataset.updates));
      const [node] = await daemon.store.listNodes({ label: 'small', states: ['ready'] });
      await holdNode(daemon.store, node.id, { reason: 'status page test', expireMs: null, now: Date.now() });
      daemon.storeWritten();
      await waitFor(async () => (await pageLabels(page)).small?.hold === '1', { what: 'the hold on the page' });
      expect(Number(await page.$eval('#live', (e) => (e as HTMLElement).dataset.updates))).toBeGreaterThan(updates);
      await waitFor(async () => (await daemon.store.listNodes({ label: 'small', states: ['ready'] })).length === 2, { what: 'the replacement' });
      await waitFor(() => agrees(page, url), { what: 'the page to show /api/labels after the hold' });
      await waitFor(async () => (await page.$$eval('#events tbody tr', (trs) => trs.map((t) => t.textContent ?? ''))).some((t) => t.includes('hold') && t.includes('status page test')), {
        what: 'the hold in the recent events',
      });

      // The chart: one size line per label from the server's samples.
      await waitFor(async () => Number(await page.$eval('[data-samples]', (e) => (e as HTMLElement).dataset.samples)) >= 3, { what: 'history samples' });
      expect(await page.$$eval('#chart polyline[data-series="size"]', (ls) => ls.map((l) => (l as SVGElement).dataset.label))).toEqual(['small', 'large']);

      await mkdir(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
