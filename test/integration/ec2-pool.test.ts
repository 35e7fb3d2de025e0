// The core loop with an EC2 provider: the daemon against the EC2 emulator over the real SDK,
// real SSH into the emulated instances, a real SQLite file; and an OpenStack and an EC2 provider
// serving one label.
import type { ChildProcess } from 'node:child_process';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { startMixedPool, EC2_BASE_IMAGE, type MixedPoolHarness } from '../helpers/ec2-pool.js';
import { exited, startDaemonProcess } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Ec2Emulator } from '../../providers/ec2/emulator/index.js';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/clock.js';

let h: MixedPoolHarness | null = null;
let child: ChildProcess | null = null;
afterEach(async () => {
  child?.kill('SIGKILL');
  if (child) await exited(child);
  await h?.close();
  h = child = null;
});

const live = (emu: Ec2Emulator) => emu.instances().filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down');

describe('EC2 pool', () => {
  it('reaches min-ready, replaces a deleted node, and holds exactly one instance per live node', async () => {
    h = await startMixedPool({ regions: [{ name: 'aws', maxServers: 4 }], labels: [{ name: 'small', minReady: 3, providers: ['aws'] }] });
    const emu = h.regions.get('aws')!;
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 3, { what: 'three ready nodes', timeoutMs: 30_000 });
    const ready = await daemon.store.listNodes({ states: ['ready'] });
    for (const n of ready) {
      const inst = emu.instances().find((i) => i.id === n.serverId)!;
      expect(inst.tags).toMatchObject({ Name: n.hostname, nodepool_owner: 'nodepool-ts', nodepool_node_id: String(n.id), nodepool_provider: 'aws' });
      expect(inst.volumeTags).toEqual(inst.tags);
      expect(inst.instanceType).toBe('t3.small');
      expect(n.ip).toBe(inst.publicIp);
    }
    expect(emu.calls().CreateTags ?? 0).toBe(0);

    const cli = SqliteStore.open(h.dbPath);
    try {
      const victim = ready[0];
      await cli.transitionNode(victim.id, 'deleting', { reason: 'test' });
      await waitFor(
        async () => {
          const nodes = await daemon.store.listNodes();
          return nodes.filter((n) => n.state === 'ready').length === 3 && !nodes.some((n) => n.id === victim.id);
        },
        { what: 'a replacement ready and the victim gone', timeoutMs: 30_000 },
      );
      await waitFor(() => emu.instances().find((i) => i.id === victim.serverId)?.state === 'terminated', { what: 'the victim terminated' });
      const nodes = await daemon.store.listNodes();
      expect(live(emu).map((i) => i.id).sort()).toEqual(nodes.map((n) => n.serverId).sort());
    } finally {
      await cli.close();
    }
  });

  it('deletes a leaked instance (our tags, no row) on its second sighting, and leaves another deployment\'s alone', async () => {
    h = await startMixedPool({ regions: [{ name: 'aws', maxServers: 4 }], labels: [{ name: 'small', minReady: 1, providers: ['aws'] }], extraTop: ['deployment-id: ec2test'] });
    const emu = h.regions.get('aws')!;
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 1, { what: 'one ready node' });
    const client = new EC2Client({ region: emu.region, endpoint: emu.endpoint, credentials: emu.credentials, maxAttempts: 1 });
    const images = emu.images().filter((i) => i.name === EC2_BASE_IMAGE);
    const launch = async (deployment: string) => {
      const tags = [
        { Key: 'Name', Value: `leak-${deployment}` },
        { Key: 'nodepool_owner', Value: 'nodepool-ts' },
        { Key: 'nodepool_deployment', Value: deployment },
        { Key: 'nodepool_provider', Value: 'aws' },
        { Key: 'nodepool_node_id', Value: '9999' },
      ];
      const out = await client.send(new RunInstancesCommand({ ImageId: images[0].id, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] }));
      return out.Instances![0].InstanceId!;
    };
    try {
      const leaked = await launch('ec2test');
      const theirs = await launch('other');
      await waitFor(() => emu.instances().find((i) => i.id === leaked)?.state === 'terminated', { what: 'the leak terminated', timeoutMs: 20_000 });
      expect(emu.instances().find((i) => i.id === theirs)?.state).not.toBe('terminated');
      expect((await daemon.store.listNodes({ states: ['ready'] })).length).toBe(1);
    } finally {
      client.destroy();
    }
  });

  it('SIGKILL mid-launch: after restart no instance leaks, none is duplicated, and the pool refills', async () => {
    h = await startMixedPool({
      regions: [{ name: 'aws', maxServers: 8, bootTimeMs: 1500, terminateTimeMs: 300 }],
      labels: [{ name: 'small', minReady: 6, providers: ['aws'] }],
      extraTop: ['deployment-id: ec2crash'],
    });
    const emu = h.regions.get('aws')!;
    child = startDaemonProcess(h, 'daemon-1.log');
    const store = SqliteStore.open(h.dbPath);
    try {
      // Killed while instances are launched and still pending: rows building, some without their id yet.
      await waitFor(() => (emu.calls().RunInstances ?? 0) >= 3 && emu.instances().some((i) => i.state === 'pending'), { what: 'launches in flight', timeoutMs: 30_000 });
      child.kill('SIGKILL');
      await exited(child);
      expect((await store.listNodes({ states: ['building'] })).length).toBeGreaterThan(0);

      child = startDaemonProcess(h, 'daemon-2.log');
      await waitFor(
        async () => {
          const nodes = await store.listNodes();
          const ids = new Set(nodes.map((n) => n.serverId));
          const instances = live(emu);
          return nodes.length === 6 && nodes.every((n) => n.state === 'ready') && instances.length === 6 && instances.every((i) => ids.has(i.id));
        },
        { what: 'six ready nodes and exactly their instances', timeoutMs: 60_000 },
      );
      // No node ever had two instances alive: every node id tag names at most one non-terminated instance.
      const perNode = new Map<string, number>();
      for (const i of emu.instances().filter((x) => x.state !== 'terminated')) perNode.set(i.tags.nodepool_node_id, (perNode.get(i.tags.nodepool_node_id) ?? 0) + 1);
      expect([...perNode.values()].every((n) => n === 1)).toBe(true);
      expect(emu.peakInstances()).toBeLessThanOrEqual(8);
      for (const i of live(emu)) expect(i.tags.nodepool_deployment).toBe('ec2crash');
    } finally {
      await store.close();
    }
  });

  it('with eventually consistent reads (new instances hidden for 1.5 s) the pool fills and refills without a lost node or a leak', async () => {
    h = await startMixedPool({ regions: [{ name: 'aws', maxServers: 3, consistencyLagMs: 1500 }], labels: [{ name: 'small', minReady: 2, providers: ['aws'] }] });
    const emu = h.regions.get('aws')!;
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'two ready nodes', timeoutMs: 30_000 });
    const first = await daemon.store.listNodes();
    const cli = SqliteStore.open(h.dbPath);
    try {
      await cli.transitionNode(first[0].id, 'deleting', { reason: 'test' });
    } finally {
      await cli.close();
    }
    await waitFor(
      async () => {
        const nodes = await daemon.store.listNodes();
        return nodes.length === 2 && nodes.every((n) => n.state === 'ready') && !nodes.some((n) => n.id === first[0].id) && live(emu).length === 2;
      },
      { what: 'the pool refilled with exactly its instances', timeoutMs: 30_000 },
    );
    // The survivor was never taken for lost while EC2 hid it.
    expect((await daemon.store.getNode(first[1].id))?.state).toBe('ready');
    // No launch attempt failed (a hidden instance taken for vanished would be one).
    expect(await daemon.store.listLaunchFailures()).toEqual([]);
  });

  it('a failed launch (terminated with Server.InternalError) is a failed boot: recorded with its reason, deleted, and retried', async () => {
    h = await startMixedPool({ regions: [{ name: 'aws', maxServers: 3 }], labels: [{ name: 'small', minReady: 2, providers: ['aws'] }] });
    const emu = h.regions.get('aws')!;
    emu.failLaunches(true);
    const daemon = await h.startDaemon();
    const failure = await waitFor(async () => (await daemon.store.listLaunchFailures({ provider: 'aws' }))[0], { what: 'a failed launch recorded', timeoutMs: 30_000 });
    expect(failure.message).toMatch(/terminated: Server\.InternalError: Internal error on launch/);
    emu.failLaunches(false);
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'two ready nodes', timeoutMs: 30_000 });
    const nodes = await daemon.store.listNodes();
    expect(live(emu).map((i) => i.id).sort()).toEqual(nodes.map((n) => n.serverId).sort());
  });

  it('an interrupted spot instance is a lost node: its row goes and a replacement launches', async () => {
    h = await startMixedPool({ regions: [{ name: 'aws', maxServers: 3, extraYaml: ['market: spot'] }], labels: [{ name: 'small', minReady: 2, providers: ['aws'] }] });
    const emu = h.regions.get('aws')!;
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 2, { what: 'two ready spot nodes' });
    expect(live(emu).every((i) => i.spot)).toBe(true);
    const victim = (await daemon.store.listNodes({ states: ['ready'] }))[0];
    emu.interruptSpot(victim.serverId!);
    await waitFor(
      async () => {
        const nodes = await daemon.store.listNodes();
        return !nodes.some((n) => n.id === victim.id) && nodes.filter((n) => n.state === 'ready').length === 2;
      },
      { what: 'the lost node gone and two ready again', timeoutMs: 30_000 },
    );
    expect(emu.instances().find((i) => i.id === victim.serverId)?.stateReason).toMatch(/SpotInstanceTermination/);
  });

  it('nodepool provider-check passes every step against an EC2 region and leaves nothing behind', async () => {
    h = await startMixedPool({ regions: [{ name: 'aws', maxServers: 2 }], labels: [{ name: 'small', minReady: 0, providers: ['aws'] }] });
    const emu = h.regions.get('aws')!;
    let out = '';
    const code = await runCli(['-c', h.configPath, 'provider-check', 'aws', '--budget', '60'], { out: { write: (t: string) => (out += t) }, err: { write: () => undefined }, env: h.env, clock: systemClock });
    const rows = out.trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(
      ['auth', 'catalog', 'flavors', 'image', 'quota', 'create', 'active', 'ssh', 'list', 'delete'].map((s) => `${s} pass`),
    );
    expect(code).toBe(0);
    expect(live(emu)).toEqual([]);
  });

  it('an OpenStack and an EC2 provider serve the same label', async () => {
    h = await startMixedPool({
      regions: [{ name: 'aws', maxServers: 2 }],
      clouds: [{ name: 'os', maxServers: 2 }],
      labels: [{ name: 'small', minReady: 4, providers: ['os', 'aws'] }],
    });
    const emu = h.regions.get('aws')!;
    const os = h.clouds.get('os')!;
    const daemon = await h.startDaemon();
    await waitFor(async () => (await daemon.store.listNodes({ states: ['ready'] })).length === 4, { what: 'four ready nodes', timeoutMs: 30_000 });
    const nodes = await daemon.store.listNodes({ states: ['ready'] });
    expect(nodes.filter((n) => n.provider === 'aws')).toHaveLength(2);
    expect(nodes.filter((n) => n.provider === 'os')).toHaveLength(2);
    expect(live(emu)).toHaveLength(2);
    expect(os.servers()).toHaveLength(2);
  });
});
