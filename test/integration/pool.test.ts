// The core loop against emulated OpenStack clouds: the daemon in-process, real HTTP, real SSH,
// a real SQLite file, and a second store connection playing the CLI.
import { afterEach, describe, expect, it } from 'vitest';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { NodeRecord } from '../../src/model.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { startOpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { startEc2Emulator } from '../../providers/ec2/emulator/index.js';
import { Daemon } from '../../src/daemon.js';
import { withoutBakes, withoutCiLoop } from '../../src/demo.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { silentLogger } from '../../src/log.js';

let h: PoolHarness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const byState = (nodes: NodeRecord[], label?: string) => {
  const out: Record<string, number> = {};
  for (const n of nodes) if (!label || n.label === label) out[n.state] = (out[n.state] ?? 0) + 1;
  return out;
};

describe('pool', () => {
  it('fills every label of the demo config to min-ready, small nodes from the image it baked first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodepool-demo-test-'));
    const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
    await writeFile(join(dir, 'key'), keys.private, { mode: 0o600 });
    // As `npm start` does: sandboxed VMs where bubblewrap exists (the setup really runs), else no bakes.
    const bakes = findBwrap() !== null;
    const clouds = await Promise.all(
      [1, 2].map(async (seed) => {
        const sandboxDir = bakes ? await mkdtemp(join(dir, `sandbox-${seed}-`)) : undefined;
        return startOpenStackEmulator({ seed, bootTimeMs: 100, imageTimeMs: 100, sshAuthorizedKeys: [keys.public], sandboxDir });
      }),
    );
    const region = await startEc2Emulator({ seed: 3, bootTimeMs: 100, imageTimeMs: 100, sshAuthorizedKeys: [keys.public], sandboxDir: bakes ? await mkdtemp(join(dir, 'sandbox-aws-')) : undefined });
    const configPath = join(dir, 'demo.yaml');
    const demo = withoutCiLoop(await readFile('config/demo.yaml', 'utf8'));
    await writeFile(configPath, bakes ? demo : withoutBakes(demo));
    const env = {
      NODEPOOL_DEMO_CLOUD_A_URL: clouds[0].authUrl,
      NODEPOOL_DEMO_CLOUD_B_URL: clouds[1].authUrl,
      NODEPOOL_DEMO_SSH_PORT_A: String(clouds[0].sshPort),
      NODEPOOL_DEMO_SSH_PORT_B: String(clouds[1].sshPort),
      NODEPOOL_DEMO_EC2_URL: region.endpoint,
      NODEPOOL_DEMO_EC2_KEY: region.credentials.accessKeyId,
      NODEPOOL_DEMO_EC2_SECRET: region.credentials.secretAccessKey,
      NODEPOOL_DEMO_SSH_PORT_EC2: String(region.sshPort),
      NODEPOOL_DEMO_KEY: join(dir, 'key'),
      NODEPOOL_DEMO_SCRIPTS_DIR: join(import.meta.dirname, '..', '..', 'images'),
    };
    const daemon = await Daemon.start({ configPath, dbPath: join(dir, 'db'), env, log: silentLogger });
    try {
      for (const label of daemon.config().labels) {
        await waitFor(async () => (await daemon.store.listNodes({ label: label.name, states: ['ready'] })).length === label['min-ready'], { what: `${label.name} at min-ready` });
      }
      expect((await daemon.store.listNodes()).map((n) => n.label).sort()).toEqual(['large', 'small', 'small', 'small']);
      if (bakes) {
        // The EC2 region bakes too, though the OpenStack clouds may fill `small` before it is done.
        await waitFor(async () => (await daemon.store.listImages({ states: ['ready'] })).length === 3, { what: 'three baked images' });
        const images = await daemon.store.listImages({ states: ['ready'] });
        expect(images.map((i) => [i.provider, i.image]).sort()).toEqual([['aws', 'ubuntu'], ['cloud-a', 'ubuntu'], ['cloud-b', 'ubuntu']]);
        for (const n of await daemon.store.listNodes({ label: 'small' })) expect(n.imageId).toBe(images.find((i) => i.provider === n.provider)!.externalId);
        // `large` has no setup script: it boots its base image, unbaked.
        for (const n of await daemon.store.listNodes({ label: 'large' })) expect(n.imageVersion).toBeNull();
      }
    } finally {
      await daemon.stop();
      await Promise.all([...clouds, region].map((c) => c.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fills every label to min-ready across two providers, by free capacity', async () => {
    h = await startPool({
      clouds: [
        { name: 'cloud-a', maxServers: 6 },
        { name: 'cloud-b', maxServers: 2 },
      ],
      labels: [
        { name: 'small', minReady: 4, providers: ['cloud-a', 'cloud-b'] },
        { name: 'large', minReady: 2, providers: ['cloud-a'] },
      ],
    });
    const daemon = await h.startDaemon();
    await waitFor(async () => {
      const nodes = await daemon.store.listNodes({ states: ['ready'] });
      return byState(nodes, 'small').ready === 4 && byState(nodes, 'large').ready === 2;
    }, { what: 'min-ready on both labels' });
    const nodes = await daemon.store.listNodes();
    expect(nodes).toHaveLength(6);
    // Every ready node has a live ACTIVE server with our metadata, reachable by the address stored.
    for (const n of nodes) {
      const server = h.clouds.get(n.provider)!.servers().find((s) => s.id === n.serverId);
      expect(server?.status).toBe('ACTIVE');
      expect(server?.metadata.nodepool_node_id).toBe(String(n.id));
      expect(n.ip).toBe(server?.ip);
    }
    // cloud-b (capacity 2) got small nodes too: the split follows free capacity.
    expect(nodes.filter((n) => n.provider === 'cloud-b').length).toBeGreaterThan(0);
    expect(nodes.filter((n) => n.provider === 'cloud-b').length).toBeLessThanOrEqual(2);
  });

  it('replaces a ready node deleted through the CLI, and never exceeds max-servers', async () => {
    // A delete takes a while, so a replacement launched too early would make a fourth server.
    h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 3, deleteTimeMs: 1000 }], labels: [{ name: 'small', minReady: 3, providers: ['cloud-a'] }] });
    const daemon = await h.startDaemon();
    const cloud = h.clouds.get('cloud-a')!;
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3);
    const cli = SqliteStore.open(h.dbPath);
    const victim = (await cli.listNodes({ states: ['ready'] }))[0];
    await cli.transitionNode(victim.id, 'deleting', { reason: 'operator' });
    await cli.close();
    // The daemon deletes it and launches a replacement; the pool returns to 3 ready.
    await waitFor(async () => !(await daemon.store.getNode(victim.id)), { what: 'victim row removed' });
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3, { what: 'replacement ready' });
    expect(cloud.servers().some((s) => s.id === victim.serverId)).toBe(false);
    expect((await daemon.store.audit({ kind: 'node', objectId: victim.id })).map((a) => a.toState)).toEqual(['building', 'ready', 'deleting']);
    // The emulator records its peak itself (a server being deleted still counts): no sampling gaps.
    // Three at once, never a fourth, not even while the victim's server was still going away.
    expect(cloud.peakServers()).toBe(3);
  });

  it('does not count or delete a held node, and deletes it when its hold expires', async () => {
    h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 5 }], labels: [{ name: 'small', minReady: 2, providers: ['cloud-a'] }] });
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2);
    const cli = SqliteStore.open(h.dbPath);
    const held = (await cli.listNodes({ states: ['ready'] }))[0];
    await cli.transitionNode(held.id, 'hold', { reason: 'debug', patch: { holdReason: 'debug', holdExpires: Date.now() + 60_000 } });
    // Not counted: a third node launches so that two are ready beside the held one.
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2 && (await daemon.store.listNodes()).length === 3);
    await daemon.cleanup();
    expect((await daemon.store.getNode(held.id))?.state).toBe('hold');
    // Asked to expire now: the next cleanup deletes it.
    await cli.updateNode(held.id, { holdExpires: Date.now() - 1 });
    await cli.close();
    await daemon.cleanup();
    await waitFor(async () => !(await daemon.store.getNode(held.id)), { what: 'held node deleted after expiry' });
    expect(h.clouds.get('cloud-a')!.servers().some((s) => s.id === held.serverId)).toBe(false);
  });

  it('keeps within the cloud quota when it is below max-servers', async () => {
    h = await startPool({
      clouds: [{ name: 'cloud-a', maxServers: 10, quota: { instances: 3 } }],
      labels: [{ name: 'small', minReady: 6, providers: ['cloud-a'] }],
    });
    const daemon = await h.startDaemon();
    const cloud = h.clouds.get('cloud-a')!;
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3);
    await daemon.cleanup();
    await daemon.cleanup();
    expect(cloud.peakServers()).toBe(3);
    expect((await daemon.store.listNodes()).length).toBe(3);
    // The emulator was never asked for a fourth server: the planner knew the quota.
    expect(cloud.calls()['POST /compute/v2.1/servers'] ?? 0).toBe(3);
  });

  it('retries servers that come up in ERROR, then gives up and deletes them', async () => {
    h = await startPool({ clouds: [{ name: 'cloud-a', maxServers: 1, errorRate: 1 }], labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }] });
    const daemon = await h.startDaemon();
    const cloud = h.clouds.get('cloud-a')!;
    const first = await waitFor(async () => (await daemon.store.listNodes())[0]);
    await waitFor(async () => !(await daemon.store.getNode(first.id)), { what: 'failed node removed' });
    const audit = await daemon.store.audit({ kind: 'node', objectId: first.id });
    expect(audit.map((a) => a.toState)).toEqual(['building', 'deleting']);
    expect(audit[1].reason).toMatch(/launch failed after 3 attempt/);
    // Every failed attempt is kept for `nodepool failures` and the summary of `nodepool list`.
    const failures = (await daemon.store.listLaunchFailures({ label: 'small' })).filter((f) => f.nodeId === first.id);
    expect(failures).toHaveLength(3);
    for (const f of failures) expect(f).toMatchObject({ provider: 'cloud-a', label: 'small', hostname: first.hostname, code: expect.stringMatching(/^[a-z-]+$/), message: expect.stringMatching(/ERROR/) });
    // Three create calls for that node, and every ERROR server deleted again.
    expect(cloud.calls()['POST /compute/v2.1/servers']).toBeGreaterThanOrEqual(3);
    await waitFor(() => !cloud.servers().some((s) => s.metadata.nodepool_node_id === String(first.id)), { what: 'its ERROR servers deleted' });
  });
});
