// The daemon's image builder on an EC2 provider (the EC2 emulator's sandboxed instances, the real
// images/ scripts): it bakes the missing AMI before it launches, and nodes boot from it; a failing
// setup or image-check keeps the current AMI and leaves no instance, AMI or snapshot behind, with
// the reason on the row; image-delete of the current image makes the previous one current and
// deregisters the AMI and deletes its snapshot; an EBS snapshot of ours that no AMI uses and no
// row owns (a DeleteSnapshot that failed after DeregisterImage) is deleted after two cleanup
// passes, another deployment's never.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeregisterImageCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentImage } from '../../src/builder/retention.js';
import { markImageForDeletion } from '../../src/image-actions.js';
import { imageMetadata, META_IMAGE_ID, META_OWNER, OWNER, type ImageRecord } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { createEc2Driver } from '../../providers/ec2/driver.js';
import type { Ec2Emulator } from '../../providers/ec2/emulator/index.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { startMixedPool, type MixedPoolHarness } from '../helpers/ec2-pool.js';
import { IMAGES_DIR, readOverSsh, requestRebuild } from '../helpers/bake-run.js';
import { waitFor } from '../helpers/wait.js';

describe.skipIf(!findBwrap())('image builder in the daemon on EC2', () => {
  let h: MixedPoolHarness;
  let emu: Ec2Emulator;
  let work: string;
  let images: string;
  let store: SqliteStore;
  let key: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ec2-builder-'));
    images = join(work, 'images');
    await cp(IMAGES_DIR, images, { recursive: true });
    h = await startMixedPool({
      regions: [
        {
          name: 'aws',
          maxServers: 6,
          sandboxDir: join(work, 'sandbox'),
          bootTimeMs: 50,
          imageTimeMs: 100,
          terminateTimeMs: 50,
          imageKeys: { setup: 'setup.sh', 'image-check': 'check.sh', 'snapshot-timeout': '5s' },
        },
      ],
      labels: [{ name: 'small', minReady: 1, providers: ['aws'] }],
      extraTop: [`scripts-dir: "${images}"`, 'deployment-id: bake'],
    });
    emu = h.regions.get('aws')!;
    await h.startDaemon();
    store = SqliteStore.open(h.dbPath);
    key = await readFile(h.keyPath, 'utf8');
  });

  afterAll(async () => {
    await store?.close();
    await h?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const rows = () => store.listImages({ provider: 'aws', image: 'ubuntu' });
  const current = async () => currentImage(await rows());
  const alive = (state: string) => state !== 'terminated' && state !== 'shutting-down';
  const bakeInstances = () => emu.instances().filter((i) => i.tags[META_IMAGE_ID] !== undefined && alive(i.state));
  const amis = () => emu.images().filter((i) => i.tags[META_OWNER] === OWNER && i.state !== 'deregistered');
  const snapshots = () => emu.snapshots().filter((s) => s.tags[META_OWNER] === OWNER);

  /** Asks for a build as `image-update` does and waits until it ended; no bake instance may be left. */
  const rebuild = (): Promise<ImageRecord> => requestRebuild(store, 'aws', bakeInstances, 'bake instances gone', 60_000);

  const sshCat = (host: string, path: string) => readOverSsh(host, emu.sshPort, key, path);

  it('bakes the missing AMI first and launches nodes from it that carry the setup marker', async () => {
    const first = await waitFor(async () => (await rows()).find((r) => r.state === 'ready'), { what: 'the first bake', timeoutMs: 60_000 });
    expect(first).toMatchObject({ step: 'ready', externalId: expect.stringMatching(/^ami-[0-9a-f]{17}$/) });
    const node = await waitFor(async () => (await store.listNodes({ states: ['ready'] }))[0], { what: 'a ready node', timeoutMs: 60_000 });
    expect(node).toMatchObject({ imageId: first.externalId, imageVersion: first.version });
    expect(emu.instances().find((i) => i.id === node.serverId)?.imageId).toBe(first.externalId);
    expect(await sshCat(node.ip!, '/opt/cache/marker')).toMatch(/^cached by template-ubuntu-\d+ at /);
    // The template and the test instance are gone; the one AMI and its snapshot are ours, tagged with the row.
    await waitFor(() => bakeInstances().length === 0, { what: 'bake instances gone' });
    expect(amis().map((i) => [i.id, i.state])).toEqual([[first.externalId, 'available']]);
    expect(snapshots().map((s) => [s.id, s.tags[META_IMAGE_ID]])).toEqual([[amis()[0].snapshotId, String(first.id)]]);
  });

  it('a failing setup keeps the current AMI, leaves no instance, AMI or snapshot behind, and says why', async () => {
    const before = (await current())!;
    await writeFile(join(images, 'setup.sh'), '#!/bin/bash\necho "cannot reach the mirror" >&2\nexit 3\n', { mode: 0o755 });
    try {
      const row = await rebuild();
      expect(row.state).toBe('failed');
      expect(row.reason).toMatch(/^setup: setup script setup\.sh exited 3: cannot reach the mirror/);
      expect(emu.instances().filter((i) => i.tags[META_IMAGE_ID] === String(row.id) && alive(i.state))).toEqual([]);
    } finally {
      await cp(join(IMAGES_DIR, 'setup.sh'), join(images, 'setup.sh'));
    }
    expect((await current())?.id).toBe(before.id);
    expect(amis().map((i) => i.id)).toEqual([before.externalId]);
    expect(snapshots()).toHaveLength(1);
  });

  it('a failing image-check deregisters the new AMI and deletes its snapshot; the current AMI stays', async () => {
    const before = (await current())!;
    await writeFile(join(images, 'check.sh'), '#!/bin/bash\necho "check: /opt/cache/marker is stale" >&2\nexit 1\n', { mode: 0o755 });
    let failed: ImageRecord;
    try {
      failed = await rebuild();
      expect(failed.state).toBe('failed');
      expect(failed.reason).toMatch(/^validate: image-check script check\.sh exited 1: check: \/opt\/cache\/marker is stale/);
    } finally {
      await cp(join(IMAGES_DIR, 'check.sh'), join(images, 'check.sh'));
    }
    expect((await current())?.id).toBe(before.id);
    await waitFor(() => amis().length === 1 && snapshots().length === 1, { what: 'the failed AMI and its snapshot deleted' });
    expect(snapshots().map((s) => s.tags[META_IMAGE_ID])).toEqual([String(before.id)]);
  });

  it('image-delete of the current image makes the previous one current, deregisters its AMI and deletes its snapshot', async () => {
    const previous = (await current())!;
    const next = await rebuild();
    expect(next.state, next.reason ?? '').toBe('ready');
    expect((await current())?.id).toBe(next.id);
    const snapshot = emu.images().find((i) => i.id === next.externalId)!.snapshotId!;
    expect(snapshot).toMatch(/^snap-/);
    await markImageForDeletion(store, next.id);
    await waitFor(async () => !(await store.getImage(next.id)), { what: 'the deleted image row removed' });
    expect((await current())?.id).toBe(previous.id);
    expect(amis().map((i) => i.id)).toEqual([previous.externalId]);
    expect(emu.snapshots().some((s) => s.id === snapshot)).toBe(false);
    // New nodes boot the previous AMI again.
    const ready = await store.listNodes({ states: ['ready'] });
    for (const n of ready) await store.transitionNode(n.id, 'deleting', { reason: 'test: replace' });
    const node = await waitFor(async () => (await store.listNodes({ states: ['ready'] })).find((n) => !ready.some((r) => r.id === n.id)), { what: 'a replacement node', timeoutMs: 60_000 });
    expect(node.imageId).toBe(previous.externalId);
  });

  it('an EBS snapshot of ours that no AMI uses and no row owns is deleted after two cleanup passes; another deployment\'s stays', async () => {
    const cur = (await current())!;
    const node = (await store.listNodes({ states: ['ready'] }))[0];
    const driver = createEc2Driver(h.daemon!.config().providers[0]);
    const ec2 = new EC2Client({ endpoint: emu.endpoint, region: emu.region, credentials: emu.credentials, maxAttempts: 1 });
    try {
      // As a DeleteSnapshot that failed after DeregisterImage leaves them.
      const leftover = async (deployment: string, rowId: number) => {
        const ami = await driver.createImage(node.serverId!, `leftover-${deployment}-${rowId}`, imageMetadata(deployment, { id: rowId, provider: 'aws', image: 'ubuntu' }));
        const snap = emu.images().find((i) => i.id === ami)!.snapshotId!;
        await ec2.send(new DeregisterImageCommand({ ImageId: ami }));
        return snap;
      };
      const ours = await leftover('bake', 9999);
      const theirs = await leftover('other', 1);
      expect(emu.snapshots().map((s) => s.id)).toEqual(expect.arrayContaining([ours, theirs]));
      await waitFor(() => !emu.snapshots().some((s) => s.id === ours), { what: 'the leftover snapshot deleted' });
      await h.daemon!.cleanup();
      await h.daemon!.cleanup();
      expect(emu.snapshots().some((s) => s.id === theirs)).toBe(true);
      // The current AMI's snapshot is in use: never touched.
      expect(emu.snapshots().some((s) => s.id === emu.images().find((i) => i.id === cur.externalId)!.snapshotId)).toBe(true);
      expect(await h.daemon!.metrics.registry.getSingleMetricAsString('nodepool_leaked_resources_deleted_total')).toMatch(/\{provider="aws",kind="snapshot"\} 1/);
    } finally {
      ec2.destroy();
      await driver.close();
    }
  });
});
