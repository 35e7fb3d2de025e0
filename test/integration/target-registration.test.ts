// The registration step on real parts: the daemon against emulated clouds with a Gearman target
// (real gearmand) or a Jenkins master that answers 503 for a while.
import { afterEach, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'gearmanode';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { loadGearmanode } from '../../src/gearman/gearmanode.js';

let gearmand: Gearmand | null = null;
let h: PoolHarness | null = null;
let http: Server | null = null;
let worker: Worker | null = null;
afterEach(async () => {
  await h?.close();
  worker?.close();
  await gearmand?.stop();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
  h = gearmand = http = worker = null;
});

const creates = (p: PoolHarness) => p.clouds.get('cloud-a')!.calls()['POST /compute/v2.1/servers'] ?? 0;

it('creates no server while no worker serves node_assign:<target>; the first worker gets one node', { timeout: 60_000 }, async () => {
  gearmand = await startGearmand();
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 2 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: [`gearman-servers: [{ host: ${gearmand.host}, port: ${gearmand.port} }]`, 'demand-interval: 0.2s', 'targets:', '  - { name: zuul, gearman: {} }'],
  });
  const daemon = await h.startDaemon();
  await waitFor(() => (daemon.health().providers['cloud-a'] as { reconciled: boolean }).reconciled, { what: 'cloud-a reconciled' });
  // A window of ten plan cycles (demand-interval 0.2 s) in which nothing may be created (before: a create every ~2 s).
  const until = Date.now() + 2000;
  await waitFor(() => Date.now() >= until, { what: 'the window', intervalMs: 100 });
  expect(creates(h)).toBe(0);
  expect(await daemon.store.listNodes()).toEqual([]);

  const gm = loadGearmanode();
  const got: unknown[] = [];
  worker = gm.worker({ servers: [{ host: gearmand.host, port: gearmand.port }] });
  worker.on('error', () => undefined);
  worker.addFunction('node_assign:zuul', (job) => {
    got.push(JSON.parse(String(job.payload)));
    job.workComplete(JSON.stringify({ manager: 'mgr-1' }));
  }, { toStringEncoding: 'utf8' });
  const ready = await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] }))[0], { what: 'a ready node once a worker serves node_assign' });
  expect(ready.manager).toBe('mgr-1');
  expect(creates(h)).toBe(1);
  expect(got).toEqual([expect.objectContaining({ name: ready.hostname, port: expect.any(Number) })]);
});

it('retries a registration the master refuses for a while on the same server', { timeout: 60_000 }, async () => {
  let posts = 0;
  http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    req.resume();
    req.on('end', () => {
      if (path === '/crumbIssuer/api/json') return res.writeHead(404).end();
      if (path === '/computer/doCreateItem') {
        posts++;
        // Down for the first two tries (a restarting master), then the node is created.
        if (posts <= 2) return res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Jenkins is getting ready to work</h1>');
        return res.writeHead(302, { location: '/computer/' }).end();
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => http!.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 2 }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: ['targets:', `  - { name: jenkins, jenkins: { url: "${url}", user: nodepool, apikey: token, credentials-id: ssh-key } }`],
  });
  const daemon = await h.startDaemon();
  const ready = await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] }))[0], { what: 'a ready node', timeoutMs: 40_000 });
  expect(posts).toBe(3);
  // One server for the node: the refused registrations did not delete and re-boot it.
  expect(creates(h)).toBe(1);
  expect(ready.launchAttempts).toBe(1);
});
