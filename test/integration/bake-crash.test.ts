// kill -9 in the middle of a bake (its setup script running on the template server), restart:
// the template server is deleted, the build is failed with the step it was at, the previous
// image stays current and nodes keep booting from it.
import type { ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { currentImage } from '../../src/builder/retention.js';
import { META_IMAGE_ID } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { exited, startDaemonProcess } from '../helpers/daemon-process.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { waitFor } from '../helpers/wait.js';

const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');

let h: PoolHarness | null = null;
let child: ChildProcess | null = null;
const dirs: string[] = [];
afterEach(async () => {
  child?.kill('SIGKILL');
  if (child) await exited(child);
  await h?.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  h = child = null;
});

it.skipIf(!findBwrap())('a daemon SIGKILLed mid-bake and restarted leaves the previous image current and nothing leaked', async () => {
  const sandbox = await mkdtemp(join(tmpdir(), 'bake-crash-sandbox-'));
  const images = await mkdtemp(join(tmpdir(), 'bake-crash-images-'));
  dirs.push(sandbox, images);
  await cp(IMAGES_DIR, images, { recursive: true });
  h = await startPool({
    clouds: [{ name: 'cloud-a', maxServers: 4, sandboxDir: sandbox, bootTimeMs: 50, imageTimeMs: 100, imageKeys: { setup: 'setup.sh', 'image-check': 'check.sh' } }],
    labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
    extraTop: [`scripts-dir: "${images}"`],
  });
  const emu = h.clouds.get('cloud-a')!;
  const bakeServers = () => emu.servers().filter((s) => s.metadata[META_IMAGE_ID] !== undefined && !s.deleting);
  const store = SqliteStore.open(h.dbPath);
  try {
    child = startDaemonProcess(h, 'daemon-1.log');
    const first = await waitFor(async () => (await store.listImages({ states: ['ready'] }))[0], { what: 'the first image', timeoutMs: 60_000 });

    // The next bake's setup hangs; kill the daemon while it runs.
    await writeFile(join(images, 'setup.sh'), '#!/bin/bash\necho "setup: waiting for a mirror"\nsleep 600\n', { mode: 0o755 });
    const req = await store.requestImageBuild('cloud-a', 'ubuntu');
    const rowId = await waitFor(async () => (await store.getImageRequest(req.id))?.imageId, { what: 'the build to start' });
    await waitFor(async () => (await store.getImage(rowId))?.step === 'setup', { what: 'the setup step', timeoutMs: 30_000 });
    const template = (await store.getImage(rowId))!.serverId;
    expect(bakeServers().map((s) => s.id)).toEqual([template]);
    child.kill('SIGKILL');
    await exited(child);

    child = startDaemonProcess(h, 'daemon-2.log');
    const failed = await waitFor(async () => {
      const r = await store.getImage(rowId);
      return r?.state === 'failed' ? r : undefined;
    }, { what: 'the interrupted build failed', timeoutMs: 60_000 });
    expect(failed.reason).toBe('setup: interrupted: the daemon stopped during this step');
    await waitFor(() => bakeServers().length === 0, { what: 'the template server deleted' });
    expect(currentImage(await store.listImages({ provider: 'cloud-a', image: 'ubuntu' }))?.id).toBe(first.id);
    expect(emu.images().filter((i) => i.properties.nodepool_owner === 'nodepool-ts').map((i) => i.id)).toEqual([first.externalId]);
    // Nodes still come from the current image.
    const node = await waitFor(async () => (await store.listNodes({ states: ['ready'] }))[0], { what: 'a ready node' });
    expect(node.imageId).toBe(first.externalId);
  } finally {
    await store.close();
  }
});
