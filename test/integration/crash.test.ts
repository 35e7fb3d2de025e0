// kill -9 while launches and deletes are in flight, restart: nothing leaks, no live node is deleted.
import type { ChildProcess } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { exited, startDaemonProcess } from '../helpers/daemon-process.js';
import { SqliteStore } from '../../src/store/sqlite.js';

let h: PoolHarness | null = null;
let child: ChildProcess | null = null;
afterEach(async () => {
  child?.kill('SIGKILL');
  await h?.close();
  h = child = null;
});

it('recovers from SIGKILL with launches and deletes in flight', async () => {
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 8, bootTimeMs: 600, deleteTimeMs: 800 }],
    labels: [{ name: 'small', minReady: 6, providers: ['cloud-a'] }],
  });
  const cloud = h.clouds.get('cloud-a')!;
  child = startDaemonProcess(h, 'daemon-1.log');
  const store = SqliteStore.open(h.dbPath);
  try {
    // Let some nodes become ready, then delete two of them and kill the daemon mid-flight.
    await waitFor(async () => (await store.listNodes({ states: ['ready'] })).length >= 3, { what: 'three ready nodes', timeoutMs: 60_000 });
    const ready = await store.listNodes({ states: ['ready'] });
    for (const n of ready.slice(0, 2)) await store.transitionNode(n.id, 'deleting', { reason: 'operator' });
    const keep = ready.slice(2).map((n) => ({ id: n.id, serverId: n.serverId }));
    await waitFor(() => cloud.calls()['DELETE /compute/v2.1/servers/{id}'] >= 1, { what: 'a delete call in flight' });
    expect((await store.listNodes({ states: ['building'] })).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await exited(child);

    child = startDaemonProcess(h, 'daemon-2.log');
    // The pool returns to min-ready and the cloud holds exactly the servers of live rows.
    await waitFor(
      async () => {
        const nodes = await store.listNodes();
        const live = new Set(nodes.map((n) => n.serverId));
        const servers = cloud.servers();
        return nodes.filter((n) => n.state === 'ready').length === 6 && nodes.length === 6 && servers.length === 6 && servers.every((s) => live.has(s.id));
      },
      { what: 'six ready nodes and no leaked server', timeoutMs: 60_000 },
    );
    // The restart kept the deployment id: every server, old and new, carries the stored one.
    const deploymentId = await store.getMeta('deployment_id');
    expect(deploymentId).toMatch(/^[0-9a-f]{8}$/);
    for (const s of cloud.servers()) expect(s.metadata.nodepool_deployment).toBe(deploymentId);
    // No live node was deleted: the ready nodes we did not delete kept their servers.
    for (const k of keep) {
      expect((await store.getNode(k.id))?.serverId).toBe(k.serverId);
      expect(cloud.servers().some((s) => s.id === k.serverId)).toBe(true);
    }
  } finally {
    await store.close();
  }
});
