// An image bake on the EC2 emulator's sandboxed instances with the real images/ scripts: the AMI
// (and its snapshot) carries our tags and the setup's marker, the template instance is gone; a
// failing setup leaves no instance, no AMI and no snapshot behind.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRemote } from '../../src/builder/remote.js';
import type { ProviderConfig } from '../../src/config.js';
import { createEc2Driver } from '../../providers/ec2/driver.js';
import { startEc2Emulator, type Ec2Emulator } from '../../providers/ec2/emulator/index.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { bakeOnce, brokenImages, IMAGES_DIR } from '../helpers/bake-run.js';
import { EC2_BASE_IMAGE, ec2ProviderConfig } from '../helpers/ec2-pool.js';
import { waitFor } from '../helpers/wait.js';

describe.skipIf(!findBwrap())('bake on EC2', () => {
  let emu: Ec2Emulator;
  let work: string;
  let keyPath: string;
  let keys: { private: string; public: string };

  beforeAll(async () => {
    keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
    work = await mkdtemp(join(tmpdir(), 'ec2-bake-'));
    emu = await startEc2Emulator({ seed: 12, bootTimeMs: 50, imageTimeMs: 50, terminateTimeMs: 50, sshAuthorizedKeys: [keys.public], sandboxDir: join(work, 'sandbox') });
    keyPath = join(work, 'id_ecdsa');
    await writeFile(keyPath, keys.private, { mode: 0o600 });
  });

  afterAll(async () => {
    await emu?.close();
    await rm(work, { recursive: true, force: true });
  });

  const provider = (setup: string, baseImage = EC2_BASE_IMAGE): ProviderConfig =>
    ec2ProviderConfig(emu, {
      keypair: 'nodepool',
      'max-servers': 5,
      'ssh-port': emu.sshPort,
      'poll-interval': '0.05s',
      images: [{ name: 'ubuntu', 'base-image': baseImage, 'min-ram': 2048, setup, 'private-key': keyPath, username: 'jenkins' }],
    });

  const run = (setup: string, imagesDir: string) => {
    const cfg = provider(setup);
    return bakeOnce({ cfg, driver: createEc2Driver(cfg), work, setup, imagesDir, deploymentId: 'dep-e' });
  };

  const liveInstances = () => emu.instances().filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down');

  it('bakes an available AMI with tagged image and snapshot, carrying the setup marker; the template instance is terminated', async () => {
    const { row } = await run('setup.sh', IMAGES_DIR);
    expect(row.state, row.reason ?? '').toBe('ready');
    const ami = emu.images().find((i) => i.id === row.externalId)!;
    expect(ami).toMatchObject({ state: 'available', tags: expect.objectContaining({ nodepool_image_id: String(row.id), nodepool_deployment: 'dep-e', nodepool_owner: 'nodepool-ts' }) });
    expect(emu.snapshots().find((s) => s.id === ami.snapshotId)?.tags).toMatchObject({ nodepool_image_id: String(row.id) });
    expect(liveInstances().filter((i) => i.tags.Name === row.hostname)).toEqual([]);

    // An instance launched from the AMI has what the setup wrote.
    const cfg = provider('setup.sh', row.externalId!);
    const driver = createEc2Driver(cfg);
    try {
      const s = await driver.createServer({ name: 'node-from-ami', imageId: row.externalId!, flavorId: 't3.small', metadata: { nodepool_owner: 'nodepool-ts' } });
      const up = await waitFor(async () => {
        await emu.sync();
        const got = await driver.getServer(s.id);
        return got.status === 'active' && got.ip ? got : undefined;
      }, { what: 'the node from the AMI running' });
      await emu.sync();
      const conn = new ssh2.Client();
      await new Promise<void>((resolve, reject) => conn.on('ready', () => resolve()).on('error', reject).connect({ host: up.ip!, port: emu.sshPort, username: 'jenkins', privateKey: keys.private, hostVerifier: () => true }));
      let out = '';
      try {
        expect(await runRemote(conn, ['cat', '/opt/nodepool/image-info'], { onOutput: (c) => (out += c) })).toEqual({ code: 0, signal: null });
      } finally {
        conn.end();
      }
      expect(out).toMatch(/^image=ubuntu$/m);
      await driver.deleteServer(s.id);
      // Retention deletes the AMI and its snapshot.
      await driver.deleteImage(row.externalId!);
      expect(emu.images().some((i) => i.id === row.externalId && i.state !== 'deregistered')).toBe(false);
      expect(emu.snapshots().some((x) => x.id === ami.snapshotId)).toBe(false);
    } finally {
      await driver.close();
    }
  });

  it('a failing setup leaves no instance, AMI or snapshot behind, and says why', async () => {
    const broken = await brokenImages(work);
    const before = { images: emu.images().filter((i) => i.state !== 'deregistered').length, snapshots: emu.snapshots().length };
    const { row } = await run('fail.sh', broken);
    expect(row.state).toBe('failed');
    expect(row.reason).toMatch(/^setup: setup script fail\.sh exited 3/);
    expect(liveInstances().filter((i) => i.tags.Name === row.hostname)).toEqual([]);
    expect(emu.images().filter((i) => i.state !== 'deregistered').length).toBe(before.images);
    expect(emu.snapshots().length).toBe(before.snapshots);
  });
});
