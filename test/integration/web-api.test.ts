// The daemon's web API against emulated clouds: the JSON records are the CLI's --json (one code
// path, views.ts), the original Nodepool's text paths, /ready, and hold/delete by bearer token.
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/clock.js';
import type { NodeRecord } from '../../src/model.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

let h: PoolHarness | null = null;
let web: WebServer | null = null;
afterEach(async () => {
  await web?.close();
  await h?.close();
  web = h = null;
});

class Sink {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function cli(pool: PoolHarness, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Sink();
  const err = new Sink();
  const code = await runCli(['--db', pool.dbPath, '-c', pool.configPath, ...argv], { out, err, env: pool.env, clock: systemClock });
  return { code, out: out.text, err: err.text };
}

async function startSteady(): Promise<{ pool: PoolHarness; url: string }> {
  const pool = (h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 3 }],
    labels: [
      { name: 'small', minReady: 2, providers: ['cloud-a'] },
      { name: 'large', minReady: 0, providers: ['cloud-a'] },
    ],
  }));
  const daemon = await pool.startDaemon();
  web = await startWebServer(daemon, { host: '127.0.0.1', port: 0 });
  await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'small at min-ready' });
  return { pool, url: web.url };
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

describe('web API', () => {
  it('/api/labels is `nodepool label-list --json` of the same store; /api/providers and /api/status add live figures', async () => {
    const { pool, url } = await startSteady();
    const api = await (await get(`${url}/api/labels`)).json();
    const { code, out, err } = await cli(pool, 'label-list', '--json');
    expect([code, err]).toEqual([0, '']);
    expect(api).toEqual(JSON.parse(out));
    expect(api).toEqual([
      { name: 'small', minReady: 2, ready: 2, building: 0, inUse: 0, used: 0, hold: 0, deleting: 0, demand: null, deficit: 0, providers: ['cloud-a'] },
      { name: 'large', minReady: 0, ready: 0, building: 0, inUse: 0, used: 0, hold: 0, deleting: 0, demand: null, deficit: 0, providers: ['cloud-a'] },
    ]);

    const [provider] = (await (await get(`${url}/api/providers`)).json()) as Record<string, unknown>[];
    const [offline] = JSON.parse((await cli(pool, 'provider-list', '--json')).out) as Record<string, unknown>[];
    expect(provider).toMatchObject({ name: 'cloud-a', maxServers: 3, held: 2, capacity: 1, launching: 0, reconciled: true });
    expect(provider.quota).toEqual(expect.objectContaining({ instances: expect.anything() }));
    // The CLI has no daemon to ask: the live fields are null, the rest is the same.
    expect(provider.health).toBe('ok');
    expect(offline).toEqual({ ...provider, quota: null, launching: null, reconciled: null, health: null, capacity: offline.capacity });
    expect(offline.capacity).toBe(1);

    const status = (await (await get(`${url}/api/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ deploymentId: pool.daemon!.deploymentId, nodes: { total: 2, ready: 2 }, labels: 2, providers: 1, live: true, ready: true });
    expect(status.versions).toEqual({ nodepool: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version });
  });

  it('serves the CLI tables on /node-list, /image-list and /label-list, and JSON with Accept: application/json', async () => {
    const { pool, url } = await startSteady();
    const labelText = await get(`${url}/label-list`);
    expect(labelText.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await labelText.text()).toBe((await cli(pool, 'label-list')).out);
    const nodeText = await (await get(`${url}/node-list`)).text();
    expect(nodeText.split('\n')[0].split(/\s{2,}/)).toEqual(['ID', 'Provider', 'AZ', 'Label', 'Target', 'Hostname', 'NodeName', 'Server ID', 'IP', 'State', 'Age', 'Image', 'Comment']);
    expect(nodeText.trimEnd().split('\n')).toHaveLength(3);
    expect((await (await get(`${url}/image-list`)).text()).trimEnd().split(/\s{2,}/)).toEqual(['ID', 'Provider', 'Image', 'Hostname', 'Version', 'Image ID', 'Server ID', 'State', 'Age', 'Reason']);
    const accept = { accept: 'application/json' };
    expect(await (await get(`${url}/label-list`, accept)).json()).toEqual(await (await get(`${url}/api/labels`)).json());
    expect(((await (await get(`${url}/node-list`, accept)).json()) as NodeRecord[]).map((n) => n.state)).toEqual(['ready', 'ready']);
    expect(await (await get(`${url}/image-list`, accept)).json()).toEqual([]);
  });

  it('answers 404 JSON for an unknown path and 405 with Allow for a wrong method', async () => {
    const { url } = await startSteady();
    const missing = await get(`${url}/api/nope`);
    expect([missing.status, missing.headers.get('content-type'), await missing.json()]).toEqual([404, 'application/json', { error: 'not found' }]);
    expect((await get(`${url}/api/nodes/999999`)).status).toBe(404);
    const wrong = await fetch(`${url}/api/labels`, { method: 'POST' });
    expect([wrong.status, wrong.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const hold = await fetch(`${url}/api/nodes/1/hold`, { method: 'GET' });
    expect([hold.status, hold.headers.get('allow')]).toEqual([405, 'POST']);
  });

  it('refuses hold and delete with 403 without web.token, 401 with a wrong one, and does them with the right one', async () => {
    const { pool, url } = await startSteady();
    const daemon = pool.daemon!;
    const [node] = await daemon.store.listNodes({ states: ['ready'] });
    const hold = (headers: Record<string, string>, body: unknown = {}) =>
      fetch(`${url}/api/nodes/${node.id}/hold`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const off = await hold({ authorization: 'Bearer anything' });
    expect(off.status).toBe(403);
    expect((await fetch(`${url}/api/nodes/${node.id}`, { method: 'DELETE' })).status).toBe(403);

    const secret = 's3cret-token';
    pool.env.NODEPOOL_WEB_TOKEN = secret;
    await writeFile(pool.configPath, `web: { token: "\${NODEPOOL_WEB_TOKEN}" }\n${await readFile(pool.configPath, 'utf8')}`);
    expect(await daemon.reload()).toBe(true);
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: secret }] as Record<string, string>[]) {
      const res = await hold(headers);
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain(secret);
    }
    expect((await daemon.store.getNode(node.id))?.state).toBe('ready');

    const auth = { authorization: `Bearer ${secret}` };
    expect((await hold(auth, { expire: 'soon' })).status).toBe(400);
    const held = await hold(auth, { reason: 'debugging', expire: '2h' });
    expect(held.status).toBe(200);
    expect(await held.json()).toMatchObject({ id: node.id, state: 'hold', holdReason: 'debugging' });
    expect((await daemon.store.getNode(node.id))?.state).toBe('hold');
    // Held nodes serve no build: the pool refills small to min-ready.
    await waitFor(async () => (await daemon.store.listNodes({ label: 'small', states: ['ready'] })).length === 2, { what: 'replacement for the held node' });
    expect((await (await get(`${url}/api/labels`)).json())).toEqual(JSON.parse((await cli(pool, 'label-list', '--json')).out));

    expect((await fetch(`${url}/api/nodes/${node.id}`, { method: 'DELETE', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const deleted = await fetch(`${url}/api/nodes/${node.id}`, { method: 'DELETE', headers: auth });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ id: node.id, state: 'deleting' });
    await waitFor(async () => !(await daemon.store.getNode(node.id)), { what: 'node deleted by the daemon' });
    expect((await fetch(`${url}/api/nodes/${node.id}`, { method: 'DELETE', headers: auth })).status).toBe(404);
  });

  it('image-update and image-delete by bearer token, as the CLI does them', async () => {
    const { pool, url } = await startSteady();
    const daemon = pool.daemon!;
    const image = daemon.config().providers[0].images[0].name;
    const update = (headers: Record<string, string>, provider = 'cloud-a') => fetch(`${url}/api/images/${provider}/${image}/update`, { method: 'POST', headers });
    expect((await update({})).status).toBe(403);
    expect((await fetch(`${url}/api/images/1`, { method: 'DELETE' })).status).toBe(403);

    pool.env.NODEPOOL_WEB_TOKEN = 'img-token';
    await writeFile(pool.configPath, `web: { token: "\${NODEPOOL_WEB_TOKEN}" }\n${await readFile(pool.configPath, 'utf8')}`);
    expect(await daemon.reload()).toBe(true);
    const auth = { authorization: 'Bearer img-token' };
    expect((await update({ authorization: 'Bearer nope' })).status).toBe(401);
    // The harness's image has no setup script: nothing to bake, said as the CLI says it.
    const none = await update(auth);
    expect([none.status, ((await none.json()) as { error: string }).error]).toEqual([404, `provider cloud-a has an image ${image} with a setup script to bake`]);
    expect((await update(auth, 'nowhere')).status).toBe(404);

    const row = await daemon.store.createImage({ provider: 'cloud-a', image, version: '1' });
    const deleted = await fetch(`${url}/api/images/${row.id}`, { method: 'DELETE', headers: auth });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ id: row.id, state: 'deleting' });
    expect((await fetch(`${url}/api/images/999999`, { method: 'DELETE', headers: auth })).status).toBe(404);
  });

  it('/ready answers 503 until every cloud is reconciled, then 200', async () => {
    const pool = (h = await startPool({
      clouds: [
        { name: 'cloud-a', maxServers: 1 },
        { name: 'cloud-b', maxServers: 1 },
      ],
      labels: [{ name: 'small', minReady: 1, providers: ['cloud-a', 'cloud-b'] }],
    }));
    const down = pool.clouds.get('cloud-b')!;
    const port = Number(new URL(down.authUrl).port);
    const sshPort = down.sshPort;
    await down.close();
    const daemon = await pool.startDaemon();
    web = await startWebServer(daemon, { host: '127.0.0.1', port: 0 });
    const notYet = await get(`${web.url}/ready`);
    expect([notYet.status, await notYet.json()]).toEqual([503, { ready: false, waiting: ['cloud-b'] }]);
    expect(((await (await get(`${web.url}/api/status`)).json()) as { ready: boolean }).ready).toBe(false);
    const keys = await readFile(`${pool.keyPath}.pub`, 'utf8');
    pool.clouds.set('cloud-b', await startOpenStackEmulator({ seed: 9, bootTimeMs: 100, port, sshPort, sshAuthorizedKeys: [keys] }));
    const url = web.url;
    await waitFor(async () => (await get(`${url}/ready`)).status === 200, { what: '/ready 200 once cloud-b is reconciled' });
    expect(await (await get(`${url}/ready`)).json()).toEqual({ ready: true, waiting: [] });
  });
});
