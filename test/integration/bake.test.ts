// One image bake on the emulator's sandboxed VMs with the real images/ scripts: the snapshot is
// ready and carries the setup's marker, the template server is gone; a failing setup leaves no
// server and no image, and its reason is on the image row.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRemote } from '../../src/builder/remote.js';
import { createOpenStackDriver } from '../../providers/openstack/driver.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { bakeOnce, brokenImages, IMAGES_DIR, openStackBakeProvider } from '../helpers/bake-run.js';
import { startSandboxCloud, type SandboxCloud } from '../helpers/sandbox-cloud.js';

describe.skipIf(!findBwrap())('bake', () => {
  let cloud: SandboxCloud;
  let work: string;
  let keyPath: string;

  beforeAll(async () => {
    cloud = await startSandboxCloud(11);
    work = await mkdtemp(join(tmpdir(), 'bake-'));
    keyPath = join(work, 'id_ecdsa');
    await writeFile(keyPath, cloud.keys.private, { mode: 0o600 });
  });

  afterAll(async () => {
    await cloud?.close();
    await rm(work, { recursive: true, force: true });
  });

  const run = (setup: string, imagesDir: string) => {
    const cfg = openStackBakeProvider(cloud.emu, keyPath, setup);
    return bakeOnce({ cfg, driver: createOpenStackDriver(cfg), work, setup, imagesDir, deploymentId: 'dep-t' });
  };

  it('bakes a ready snapshot that carries the setup marker, and deletes its template server', async () => {
    const { row } = await run('setup.sh', IMAGES_DIR);
    expect(row.state, row.reason ?? '').toBe('ready');
    expect(row.hostname).toMatch(/^template-ubuntu-\d+$/);
    expect(row.externalId).toBeTruthy();
    const servers = await cloud.driver.listServers();
    expect(servers.filter((s) => s.name === row.hostname)).toEqual([]);
    const image = (await cloud.driver.listImages()).find((i) => i.id === row.externalId)!;
    expect(image).toMatchObject({ status: 'active', metadata: expect.objectContaining({ nodepool_image_id: String(row.id), nodepool_deployment: 'dep-t' }) });
    // A node booted from the snapshot has what the setup wrote.
    const node = await cloud.boot(row.externalId!, 'node-from-bake');
    const conn = await cloud.connect(node.ip!);
    let out = '';
    try {
      expect(await runRemote(conn, ['cat', '/opt/nodepool/image-info'], { onOutput: (c) => (out += c) })).toEqual({ code: 0, signal: null });
    } finally {
      conn.end();
    }
    expect(out).toMatch(/^image=ubuntu$/m);
    expect(out).toMatch(/^template=template-ubuntu-\d+$/m);
    expect(await readFile(join(work, 'logs', `emulated-ubuntu-${row.id}.log`), 'utf8')).toMatch(/setup: done/);
    await cloud.driver.deleteServer(node.id);
  });

  it('a failing setup leaves no server and no image behind, and says why', async () => {
    const broken = await brokenImages(work);
    const before = { servers: (await cloud.driver.listServers()).length, images: (await cloud.driver.listImages()).length };
    const { row } = await run('fail.sh', broken);
    expect(row.state).toBe('failed');
    expect(row.reason).toMatch(/^setup: setup script fail\.sh exited 3/);
    const servers = (await cloud.driver.listServers()).filter((s) => s.status !== 'deleting');
    expect(servers.filter((s) => s.name === row.hostname)).toEqual([]);
    expect(servers.length).toBeLessThanOrEqual(before.servers);
    expect((await cloud.driver.listImages()).length).toBe(before.images);
  });
});
