// kill -9 in the middle of a bake on EC2 (the AMI made, still pending, the template instance
// running), restart: the template instance is terminated, the AMI deregistered and its snapshot
// deleted, the build failed with the step it was at, and nodes keep booting from the previous AMI.
import type { ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { currentImage } from '../../src/builder/retention.js';
import { META_IMAGE_ID, META_OWNER, OWNER } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { exited, startDaemonProcess } from '../helpers/daemon-process.js';
import { startMixedPool, type MixedPoolHarness } from '../helpers/ec2-pool.js';
import { waitFor } from '../helpers/wait.js';

const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');

let h: MixedPoolHarness | null = null;
let child: ChildProcess | null = null;
let work: string | null = null;
afterEach(async () => {
  child?.kill('SIGKILL');
  if (child) await exited(child);
  await h?.close();
  if (work) await rm(work, { recursive: true, force: true });
  h = child = work = null;
});

it.skipIf(!findBwrap())('a daemon SIGKILLed while its AMI is pending, restarted, leaves the previous AMI current and no instance, AMI or snapshot behind', async () => {
  work = await mkdtemp(join(tmpdir(), 'ec2-bake-crash-'));
  const images = join(work, 'images');
  await cp(IMAGES_DIR, images, { recursive: true });
  h = await startMixedPool({
    regions: [{ name: 'aws', maxServers: 4, sandboxDir: join(work, 'sandbox'), bootTimeMs: 50, imageTimeMs: 100, terminateTimeMs: 50, imageKeys: { setup: 'setup.sh' } }],
    labels: [{ name: 'small', minReady: 1, providers: ['aws'] }],
    extraTop: [`scripts-dir: "${images}"`, 'deployment-id: ec2bakecrash'],
  });
  const emu = h.regions.get('aws')!;
  const alive = (state: string) => state !== 'terminated' && state !== 'shutting-down';
  const bakeInstances = () => emu.instances().filter((i) => i.tags[META_IMAGE_ID] !== undefined && alive(i.state));
  const amis = () => emu.images().filter((i) => i.tags[META_OWNER] === OWNER && i.state !== 'deregistered');
  const snapshots = () => emu.snapshots().filter((s) => s.tags[META_OWNER] === OWNER);
  const store = SqliteStore.open(h.dbPath);
  try {
    child = startDaemonProcess(h, 'daemon-1.log');
    const first = await waitFor(async () => (await store.listImages({ states: ['ready'] }))[0], { what: 'the first AMI', timeoutMs: 60_000 });

    // The next AMI never leaves pending; kill the daemon while it waits for it.
    emu.setImageOutcome('stuck-pending');
    const req = await store.requestImageBuild('aws', 'ubuntu');
    const rowId = await waitFor(async () => (await store.getImageRequest(req.id))?.imageId, { what: 'the build to start' });
    const saving = await waitFor(async () => {
      const r = await store.getImage(rowId);
      return r?.step === 'saved' && r.externalId ? r : undefined;
    }, { what: 'the saved step', timeoutMs: 30_000 });
    expect(bakeInstances().map((i) => i.id)).toEqual([saving.serverId]);
    const pending = emu.images().find((i) => i.id === saving.externalId)!;
    expect(pending.state).toBe('pending');
    child.kill('SIGKILL');
    await exited(child);
    emu.setImageOutcome('available');

    child = startDaemonProcess(h, 'daemon-2.log');
    const failed = await waitFor(async () => {
      const r = await store.getImage(rowId);
      return r?.state === 'failed' ? r : undefined;
    }, { what: 'the interrupted build failed', timeoutMs: 60_000 });
    expect(failed.reason).toBe('saved: interrupted: the daemon stopped during this step');
    await waitFor(() => bakeInstances().length === 0, { what: 'the template instance terminated' });
    expect(currentImage(await store.listImages({ provider: 'aws', image: 'ubuntu' }))?.id).toBe(first.id);
    expect(amis().map((i) => i.id)).toEqual([first.externalId]);
    expect(snapshots().map((s) => s.tags[META_IMAGE_ID])).toEqual([String(first.id)]);
    expect(emu.snapshots().some((s) => s.id === pending.snapshotId)).toBe(false);
    // Nodes still come from the current AMI.
    const node = await waitFor(async () => (await store.listNodes({ states: ['ready'] }))[0], { what: 'a ready node' });
    expect(node.imageId).toBe(first.externalId);
  } finally {
    await store.close();
  }
});
