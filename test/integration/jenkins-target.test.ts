// JenkinsTarget over real HTTP against the simulated master's Jenkins REST API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JenkinsTarget } from '../../src/targets/jenkins.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { TargetAuthError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { TargetNode } from '../../src/targets/target.js';

const USER = 'nodepool';
const TOKEN = '11d6f7d8c9e0a1b2c3d4e5f6a7b8c9d0e1';

function node(name: string, labels = ['trusty']): TargetNode {
  return { name, host: '203.0.113.7', port: 22, description: `nodepool node ${name}`, labels };
}

describe('JenkinsTarget against the simulated master', () => {
  let sim: SimMaster;
  const targets: JenkinsTarget[] = [];
  const target = (apikey = TOKEN) => {
    const t = new JenkinsTarget({ name: 'jenkins01', url: sim.jenkinsUrl, user: USER, apikey, credentialsId: 'ssh-cred', remoteFs: '/home/jenkins', log: silentLogger });
    targets.push(t);
    return t;
  };

  beforeAll(async () => {
    // No gearman servers: this suite is about the REST conversation only.
    sim = await startSimMaster({ gearman: [], user: USER, apiToken: TOKEN, log: silentLogger });
  });
  afterAll(async () => {
    await Promise.all(targets.map((t) => t.close()));
    await sim.close();
    await sim.close(); // idempotent
  });

  it('registers a node: fetches the crumb once and posts the DumbSlave form', async () => {
    const t = target();
    const before = sim.requests();
    await expect(t.register(node('np-0001', ['trusty', 'big']))).resolves.toEqual({});
    await t.register(node('np-0002'));
    const calls = sim.requests();
    expect((calls['GET /crumbIssuer/api/json'] ?? 0) - (before['GET /crumbIssuer/api/json'] ?? 0)).toBe(1);
    expect((calls['POST /computer/doCreateItem'] ?? 0) - (before['POST /computer/doCreateItem'] ?? 0)).toBe(2);
    const n = sim.nodes().find((x) => x.name === 'np-0001');
    expect(n).toMatchObject({ labels: ['trusty', 'big'], description: 'nodepool node np-0001', host: '203.0.113.7', via: 'rest' });
    // What Jenkins itself would show for the node.
    const res = await request(`${sim.jenkinsUrl}computer/np-0001/api/json`, {
      headers: { authorization: `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = (await res.body.json()) as { displayName: string; assignedLabels: { name: string }[]; numExecutors: number };
    expect(body.displayName).toBe('np-0001');
    expect(body.assignedLabels.map((l) => l.name)).toEqual(['trusty', 'big', 'np-0001']);
    expect(body.numExecutors).toBe(1);
  });

  it('treats "already exists" as success', async () => {
    const t = target();
    await t.register(node('np-dup'));
    await expect(t.register(node('np-dup'))).resolves.toEqual({});
    expect(sim.nodes().filter((n) => n.name === 'np-dup')).toHaveLength(1);
  });

  it('fetches a fresh crumb once when the cached one is refused', async () => {
    const t = target();
    await t.register(node('np-crumb-1'));
    sim.expireCrumb();
    const before = sim.requests()['GET /crumbIssuer/api/json'] ?? 0;
    await expect(t.register(node('np-crumb-2'))).resolves.toEqual({});
    expect((sim.requests()['GET /crumbIssuer/api/json'] ?? 0) - before).toBe(1);
    expect(await t.exists('np-crumb-2')).toBe(true);
  });

  it('rejects a wrong token with TargetAuthError naming the user', async () => {
    const t = target('not-the-token');
    const err = await t.register(node('np-auth')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetAuthError);
    expect((err as TargetAuthError).code).toBe('target-auth');
    expect((err as Error).message).toMatch(/nodepool/);
    expect((err as Error).message).toMatch(/401/);
    expect((err as Error).message).not.toContain('not-the-token');
    await expect(t.exists('np-0001')).rejects.toBeInstanceOf(TargetAuthError);
    expect(sim.nodes().some((n) => n.name === 'np-auth')).toBe(false);
  });

  it('unregisters a node, and an unknown node is success', async () => {
    const t = target();
    await t.register(node('np-del'));
    expect(await t.exists('np-del')).toBe(true);
    await t.unregister({ hostname: 'np-del', manager: null });
    expect(await t.exists('np-del')).toBe(false);
    expect(sim.nodes().some((n) => n.name === 'np-del')).toBe(false);
    await expect(t.unregister({ hostname: 'np-del', manager: null })).resolves.toBeUndefined();
  });

  it('takeOffline reads temporarilyOffline first and toggles only an online agent, with the crumb and message', async () => {
    const t = target();
    await t.register(node('np-off'));
    const before = sim.requests();
    const count = (k: string) => (sim.requests()[k] ?? 0) - (before[k] ?? 0);
    await t.takeOffline({ hostname: 'np-off', manager: null }, 'nodepool: single use, unit #3 started');
    await t.takeOffline({ hostname: 'np-off', manager: null }, 'nodepool: single use, unit #3 started');
    expect(count('GET /computer/NAME/api/json')).toBe(2);
    // toggleOffline is a toggle: a second POST would bring the agent back online.
    expect(count('POST /computer/NAME/toggleOffline')).toBe(1);
    expect(sim.nodes().find((n) => n.name === 'np-off')).toMatchObject({ temporarilyOffline: true });
    const { body } = await request(`${sim.jenkinsUrl}computer/np-off/api/json`, { headers: { authorization: `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}` } });
    expect(await body.json()).toMatchObject({ offline: true, temporarilyOffline: true, offlineCauseReason: 'nodepool: single use, unit #3 started' });
    // An agent that is gone already is success, and nothing is posted.
    await expect(t.takeOffline({ hostname: 'np-never', manager: null }, 'x')).resolves.toBeUndefined();
    expect(count('POST /computer/NAME/toggleOffline')).toBe(1);
  });

  it('exists() answers for names that need URL encoding', async () => {
    const t = target();
    expect(await t.exists('no such node')).toBe(false);
    await t.register(node('np 0003 (spaced)'));
    expect(await t.exists('np 0003 (spaced)')).toBe(true);
    await t.unregister({ hostname: 'np 0003 (spaced)', manager: null });
    expect(await t.exists('np 0003 (spaced)')).toBe(false);
  });

  it('refuses POSTs without a crumb and requests without credentials, as Jenkins does', async () => {
    const auth = { authorization: `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}` };
    const noCrumb = await request(`${sim.jenkinsUrl}computer/doCreateItem`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=x&type=hudson.slaves.DumbSlave&json=%7B%7D',
    });
    expect(noCrumb.statusCode).toBe(403);
    expect(await noCrumb.body.text()).toContain('No valid crumb was included in the request');
    const anon = await request(`${sim.jenkinsUrl}computer/api/json`);
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toMatch(/^Basic realm=/);
    await anon.body.dump();
  });

  it('gives up with TargetAuthError when even a fresh crumb is refused', async () => {
    // A master whose CSRF check always fails (e.g. a proxy stripping the crumb header).
    let crumbFetches = 0;
    const srv = createServer((req, res) => {
      if (req.url === '/crumbIssuer/api/json') {
        crumbFetches++;
        res.setHeader('Content-Type', 'application/json;charset=utf-8');
        return res.end(JSON.stringify({ crumb: `c${crumbFetches}`, crumbRequestField: 'Jenkins-Crumb' }));
      }
      res.statusCode = 403;
      res.setHeader('Content-Type', 'text/html;charset=utf-8');
      res.end('<html><body><h2>HTTP ERROR 403 No valid crumb was included in the request</h2></body></html>');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
      const t = new JenkinsTarget({ name: 'proxy', url, user: USER, apikey: TOKEN, credentialsId: 'c', log: silentLogger });
      targets.push(t);
      const err = await t.register(node('np-x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetAuthError);
      expect((err as Error).message).toMatch(/403.*crumb/s);
      expect(crumbFetches).toBe(2);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it('fails with a retryable TargetError when the master is unreachable', async () => {
    const t = new JenkinsTarget({ name: 'gone', url: 'http://127.0.0.1:1/', user: USER, apikey: TOKEN, credentialsId: 'c', log: silentLogger });
    targets.push(t);
    const err = await t.exists('x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'target', retryable: true });
  });
});
