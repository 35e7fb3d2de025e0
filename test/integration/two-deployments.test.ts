// Two installations (two databases, same config, no deployment-id: each generates its own) on
// one emulated cloud project. Their node ids and hostname schemes collide; neither may take the
// other's servers for leaks.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

let h: PoolHarness | null = null;
let other: Daemon | null = null;
afterEach(async () => {
  await other?.stop();
  await h?.close();
  h = other = null;
});

const lists = (d: Daemon) => (d.health().providers['cloud-a'] as { api: { byOp: Record<string, number> } }).api.byOp.listServers ?? 0;

it('two deployments on one cloud project never delete each other\'s servers', async () => {
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 4 }],
    labels: [{ name: 'small', minReady: 2, providers: ['cloud-a'] }],
  });
  const cloud = h.clouds.get('cloud-a')!;
  const a = await h.startDaemon();
  other = await Daemon.start({ configPath: h.configPath, dbPath: join(h.dir, 'b.db'), env: h.env, log: silentLogger, storeWatchMs: 100 });
  const b = other;
  const ready = async (d: Daemon) => (await d.store.listNodes({ states: ['ready'] })).length === 2;
  await waitFor(async () => (await ready(a)) && (await ready(b)), { what: 'two ready nodes in each deployment', timeoutMs: 60_000 });
  expect(a.deploymentId).not.toBe(b.deploymentId);
  expect(await a.store.getMeta('deployment_id')).toBe(a.deploymentId);

  // Three more cleanup passes each: a leak is deleted on its second sighting, a lost node at once.
  const since = [lists(a), lists(b)];
  await waitFor(() => lists(a) >= since[0] + 3 && lists(b) >= since[1] + 3, { what: 'three cleanup passes each', timeoutMs: 30_000 });

  expect(cloud.calls()['DELETE /compute/v2.1/servers/{id}'] ?? 0).toBe(0);
  const servers = cloud.servers().filter((s) => s.status !== 'DELETED');
  expect(servers).toHaveLength(4);
  for (const d of [a, b]) {
    const nodes = await d.store.listNodes();
    expect(nodes.map((n) => n.state)).toEqual(['ready', 'ready']);
    const mine = servers.filter((s) => nodes.some((n) => n.serverId === s.id));
    expect(mine).toHaveLength(2);
    for (const s of mine) expect(s.metadata).toMatchObject({ nodepool_owner: 'nodepool-ts', nodepool_deployment: d.deploymentId });
  }
  // Both count node ids from 1, yet the hostnames differ: they carry the deployment id.
  const names = new Set(servers.map((s) => s.name));
  expect(names.size).toBe(4);
  // The CLI's store sees the same id the daemon resolved.
  const store = SqliteStore.open(join(h.dir, 'b.db'));
  try {
    expect(await store.getMeta('deployment_id')).toBe(b.deploymentId);
  } finally {
    await store.close();
  }
});

it('a reload cannot change the deployment id: the running config is kept', async () => {
  h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 1 }], labels: [{ name: 'small', minReady: 0, providers: ['cloud-a'] }] });
  const d = await h.startDaemon();
  const yaml = await readFile(h.configPath, 'utf8');
  await writeFile(h.configPath, `deployment-id: someone-else\n${yaml}`);
  expect(await d.reload()).toBe(false);
  expect(d.config()['deployment-id']).toBeUndefined();
  await writeFile(h.configPath, `deployment-id: ${d.deploymentId}\n${yaml}`);
  expect(await d.reload()).toBe(true);
});
