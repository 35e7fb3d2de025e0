// The daemon bakes before it launches: a real setup script from images/ runs on a sandboxed
// emulated VM, the snapshot is validated by image-check on a test server, becomes current, and
// nodes boot from it (they show the setup's marker over SSH). Every way a bake can fail (setup,
// image-check, a snapshot that never becomes active or is killed, a template server in ERROR)
// keeps the previous image current, leaves no server or snapshot behind, and shows the reason
// on the image row. Retention: a third good bake deletes the first. Leaks: a snapshot or a bake
// server of ours that no row owns is deleted after two cleanup passes.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentImage } from '../../src/builder/retention.js';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/clock.js';
import { imageMetadata, META_IMAGE_ID, type ImageRecord } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import type { OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { startPool, type PoolHarness } from '../helpers/pool-harness.js';
import { IMAGES_DIR, readOverSsh, requestRebuild } from '../helpers/bake-run.js';
import { waitFor } from '../helpers/wait.js';

describe.skipIf(!findBwrap())('image builder in the daemon', () => {
  let h: PoolHarness;
  let emu: OpenStackEmulator;
  let sandbox: string;
  let images: string;
  let store: SqliteStore;
  let key: string;

  beforeAll(async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'builder-sandbox-'));
    images = await mkdtemp(join(tmpdir(), 'builder-images-'));
    await cp(IMAGES_DIR, images, { recursive: true });
    h = await startPool({
      clouds: [
        {
          name: 'cloud-a',
          maxServers: 6,
          sandboxDir: sandbox,
          bootTimeMs: 50,
          imageTimeMs: 100,
          imageKeys: { setup: 'setup.sh', 'image-check': 'check.sh', 'snapshot-timeout': '2s' },
        },
      ],
      labels: [{ name: 'small', minReady: 1, providers: ['cloud-a'] }],
      extraTop: [`scripts-dir: "${images}"`, 'deployment-id: bake'],
    });
    emu = h.clouds.get('cloud-a')!;
    await h.startDaemon();
    store = SqliteStore.open(h.dbPath);
    key = await readFile(h.keyPath, 'utf8');
  });

  afterAll(async () => {
    await store?.close();
    await h?.close();
    await rm(sandbox, { recursive: true, force: true });
    await rm(images, { recursive: true, force: true });
  });

  const rows = () => store.listImages({ provider: 'cloud-a', image: 'ubuntu' });
  const current = async () => currentImage(await rows());
  const bakeServers = () => emu.servers().filter((s) => s.metadata[META_IMAGE_ID] !== undefined && !s.deleting);
  const snapshots = () => emu.images().filter((i) => i.properties.nodepool_owner === 'nodepool-ts');

  /** Asks for a build as `image-update` does and waits until it ended; no bake server may be left. */
  const rebuild = (): Promise<ImageRecord> => requestRebuild(store, 'cloud-a', bakeServers, 'bake servers gone');

  const sshCat = (host: string, path: string) => readOverSsh(host, emu.sshPort, key, path);

  it('bakes the missing image first, validates it, and launches nodes from it that carry the setup marker', async () => {
    const first = await waitFor(async () => (await rows()).find((r) => r.state === 'ready'), { what: 'the first bake', timeoutMs: 60_000 });
    expect(first).toMatchObject({ step: 'ready', hostname: expect.stringMatching(/^template-ubuntu-\d+$/) });
    const node = await waitFor(async () => (await store.listNodes({ states: ['ready'] }))[0], { what: 'a ready node' });
    expect(node).toMatchObject({ imageId: first.externalId, imageVersion: first.version });
    expect(emu.servers().find((s) => s.id === node.serverId)?.imageId).toBe(first.externalId);
    expect(await sshCat(node.ip!, '/opt/cache/marker')).toMatch(/^cached by template-ubuntu-\d+ at /);
    // The template and the test server are gone; the one snapshot is ours and active.
    await waitFor(() => bakeServers().length === 0, { what: 'bake servers gone' });
    expect(snapshots().map((i) => [i.id, i.status])).toEqual([[first.externalId, 'active']]);
    expect(await h.daemon!.metrics.registry.getSingleMetricAsString('nodepool_image_builds_total')).toMatch(/nodepool_image_builds_total\{provider="cloud-a",image="ubuntu",result="ready"\} 1/);
    expect(await readFile(join(h.dir, 'builds', `cloud-a-ubuntu-${first.id}.log`), 'utf8')).toMatch(/--- setup: setup\.sh[\s\S]*setup: done[\s\S]*--- image-check: check\.sh[\s\S]*check: ok/);
  });

  it('a failing setup script keeps the current image, leaves nothing behind and says why', async () => {
    const before = await current();
    await writeFile(join(images, 'setup.sh'), '#!/bin/bash\necho "cannot reach the mirror" >&2\nexit 3\n', { mode: 0o755 });
    try {
      const row = await rebuild();
      expect(row.state).toBe('failed');
      expect(row.reason).toMatch(/^setup: setup script setup\.sh exited 3: cannot reach the mirror/);
      expect(row.serverId).toBeNull();
    } finally {
      await cp(join(IMAGES_DIR, 'setup.sh'), join(images, 'setup.sh'));
    }
    expect((await current())?.id).toBe(before!.id);
    expect(snapshots().map((i) => i.id)).toEqual([before!.externalId]);
  });

  it('a failing image-check deletes the new snapshot and keeps the current image', async () => {
    const before = await current();
    await writeFile(join(images, 'check.sh'), '#!/bin/bash\necho "check: /opt/cache/marker is stale" >&2\nexit 1\n', { mode: 0o755 });
    try {
      const row = await rebuild();
      expect(row.state).toBe('failed');
      expect(row.reason).toMatch(/^validate: image-check script check\.sh exited 1: check: \/opt\/cache\/marker is stale/);
    } finally {
      await cp(join(IMAGES_DIR, 'check.sh'), join(images, 'check.sh'));
    }
    expect((await current())?.id).toBe(before!.id);
    await waitFor(() => snapshots().length === 1, { what: 'the failed snapshot deleted' });
  });

  it('a snapshot that never becomes active times out at snapshot-timeout; a killed one fails at once', async () => {
    const before = await current();
    emu.setSnapshotFault('stuck');
    try {
      const row = await rebuild();
      expect(row.reason).toMatch(/^saved: snapshot-timeout: snapshot \S+ not active after 2000 ms \(still building\)/);
    } finally {
      emu.setSnapshotFault(null);
    }
    emu.setSnapshotFault('killed');
    try {
      const row = await rebuild();
      expect(row.reason).toMatch(/^saved: snapshot \S+ failed in the cloud/);
    } finally {
      emu.setSnapshotFault(null);
    }
    expect((await current())?.id).toBe(before!.id);
    await waitFor(() => snapshots().length === 1, { what: 'partial snapshots deleted' });
  });

  it('a template server that goes ERROR fails the bake and is deleted', async () => {
    const before = await current();
    emu.setErrorRate(1);
    try {
      const row = await rebuild();
      expect(row.state).toBe('failed');
      expect(row.reason).toMatch(/^active: /);
    } finally {
      emu.setErrorRate(0);
    }
    expect((await current())?.id).toBe(before!.id);
    expect(snapshots()).toHaveLength(1);
  });

  it('keeps the current and the previous image: a third good bake deletes the first; failed rows older than the current go', async () => {
    const first = (await current())!;
    const second = await rebuild();
    expect(second.state, second.reason ?? '').toBe('ready');
    expect((await current())?.id).toBe(second.id);
    const third = await rebuild();
    expect(third.state, third.reason ?? '').toBe('ready');
    await waitFor(async () => !(await store.getImage(first.id)), { what: 'the first image row removed' });
    expect((await rows()).map((r) => [r.id, r.state])).toEqual([
      [second.id, 'ready'],
      [third.id, 'ready'],
    ]);
    await waitFor(() => snapshots().length === 2, { what: 'the first snapshot deleted' });
    expect(snapshots().map((i) => i.id).sort()).toEqual([second.externalId, third.externalId].sort());
  });

  it('deletes a leaked snapshot and a leaked bake server of ours after two cleanup passes, and nothing else', async () => {
    const cur = (await current())!;
    const node = (await store.listNodes({ states: ['ready'] }))[0];
    const meta = imageMetadata('bake', { id: 9999, provider: 'cloud-a', image: 'ubuntu' });
    const driver = (await import('../../providers/openstack/driver.js')).createOpenStackDriver(h.daemon!.config().providers[0]);
    try {
      const leakedImage = await driver.createImage(node.serverId!, 'leaked', meta);
      const flavor = (await driver.listFlavors()).sort((a, b) => a.ramMb - b.ramMb)[0];
      const leakedServer = await driver.createServer({ name: 'template-ubuntu-leaked', imageId: cur.externalId!, flavorId: flavor.id, metadata: meta });
      await waitFor(() => !emu.images().some((i) => i.id === leakedImage) && !emu.servers().some((s) => s.id === leakedServer.id && !s.deleting), { what: 'leaks deleted' });
    } finally {
      await driver.close();
    }
    expect(snapshots().map((i) => i.id)).toContain(cur.externalId);
    expect(await store.getNode(node.id)).toBeTruthy();
  });

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runCli(['--db', h.dbPath, '-c', h.configPath, ...argv], { out: { write: (t: string) => (out += t) }, err: { write: (t: string) => (err += t) }, env: h.env, clock: systemClock });
    return { code, out, err };
  }

  it('nodepool image-update shows each step as it happens and ends with the new image current', async () => {
    const res = await cli('image-update', 'cloud-a', 'ubuntu');
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    const steps = res.out.trimEnd().split('\n').map((l) => l.replace(/^cloud-a ubuntu build \d+ \(\d{8}T\d{6}Z\): /, ''));
    // Polling (4 per second) may miss a short step, never the order or the end.
    expect(steps.at(-1)).toMatch(/^ready in \d+ s$/);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    const order = ['boot', 'active', 'ssh', 'upload', 'setup', 'snapshot', 'saved', 'cleanup', 'validate'];
    const seen = steps.slice(0, -1).map((s) => order.indexOf(s));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(await cli('image-update', 'cloud-a', 'nosuch')).toMatchObject({ code: 1, err: expect.stringContaining('provider cloud-a has an image nosuch with a setup script') });
  });

  it('image-delete of the current image makes the previous one current; image-pause stops scheduled builds', async () => {
    const [previous, cur] = (await rows()).filter((r) => r.state === 'ready').slice(-2);
    expect((await cli('image-delete', String(cur.id))).code).toBe(0);
    await waitFor(async () => !(await store.getImage(cur.id)), { what: 'the deleted image row removed' });
    expect((await current())?.id).toBe(previous.id);
    await waitFor(() => !emu.images().some((i) => i.id === cur.externalId), { what: 'the snapshot deleted' });
    expect((await cli('image-pause', 'ubuntu', '--reason', 'mirror down')).code).toBe(0);
    expect(await store.listImagePauses()).toEqual([expect.objectContaining({ image: 'ubuntu', reason: 'mirror down' })]);
    expect((await cli('image-unpause', 'ubuntu')).code).toBe(0);
    expect(await store.listImagePauses()).toEqual([]);
  });

  it('alien-image-list lists a snapshot of another deployment, which the daemon never deletes', async () => {
    const node = (await store.listNodes({ states: ['ready'] }))[0];
    const driver = (await import('../../providers/openstack/driver.js')).createOpenStackDriver(h.daemon!.config().providers[0]);
    try {
      const theirs = await driver.createImage(node.serverId!, 'theirs', imageMetadata('other', { id: 1, provider: 'cloud-a', image: 'ubuntu' }));
      const res = await cli('alien-image-list', '--json');
      expect(res.code).toBe(0);
      expect(JSON.parse(res.out)).toEqual([{ provider: 'cloud-a', name: 'theirs', imageId: theirs, state: expect.any(String), owner: 'other deployment other' }]);
      await h.daemon!.cleanup();
      await h.daemon!.cleanup();
      expect(emu.images().some((i) => i.id === theirs)).toBe(true);
    } finally {
      await driver.close();
    }
  });
});
