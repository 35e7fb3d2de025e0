// A build log that cannot be written (here: a directory where the file should be; in production a
// full disk or a bad path) fails the bake with that reason and cleans up, instead of an unheard
// stream 'error' taking the daemon down.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenStackDriver } from '../../providers/openstack/driver.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { bakeOnce, IMAGES_DIR, openStackBakeProvider } from '../helpers/bake-run.js';
import { startSandboxCloud, type SandboxCloud } from '../helpers/sandbox-cloud.js';

describe.skipIf(!findBwrap())('bake: build log errors', () => {
  let cloud: SandboxCloud;
  let work: string;
  let keyPath: string;

  beforeAll(async () => {
    cloud = await startSandboxCloud(13);
    work = await mkdtemp(join(tmpdir(), 'bake-log-'));
    keyPath = join(work, 'id_ecdsa');
    await writeFile(keyPath, cloud.keys.private, { mode: 0o600 });
  });

  afterAll(async () => {
    await cloud?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('fails the bake with the log error and leaves no server or image', async () => {
    const cfg = openStackBakeProvider(cloud.emu, keyPath, 'setup.sh');
    // The first build of a fresh store is row 1: its log path is taken by a directory.
    await mkdir(join(work, 'logs', 'emulated-ubuntu-1.log'), { recursive: true });
    const { row } = await bakeOnce({ cfg, driver: createOpenStackDriver(cfg), work, setup: 'setup.sh', imagesDir: IMAGES_DIR, deploymentId: 'dep-log' });
    expect(row.state).toBe('failed');
    expect(row.reason).toMatch(/^setup: cannot write the build log .*emulated-ubuntu-1\.log: EISDIR/);
    expect((await cloud.driver.listServers()).filter((s) => s.name === row.hostname)).toEqual([]);
    expect((await cloud.driver.listImages()).filter((i) => i.metadata.nodepool_deployment === 'dep-log')).toEqual([]);
  }, 120_000);
});
