// An image bake on the EC2 emulator's sandboxed instances with the real images/ scripts: the AMI
// (and its snapshot) carries our tags and the setup's marker, the template instance is gone; a
// failing setup leaves no instance, no AMI and no snapshot behind.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bake } from '../../src/builder/bake.js';
import { runRemote } from '../../src/builder/remote.js';
import { systemClock } from '../../src/clock.js';
import { configSchema, type ProviderConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ManagedProvider } from '../../providers/managed-provider.js';
import { createEc2Driver } from '../../providers/ec2/driver.js';
import { startEc2Emulator, type Ec2Emulator } from '../../providers/ec2/emulator/index.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { EC2_BASE_IMAGE } from '../helpers/ec2-pool.js';
import { testRuntime } from '../helpers/pool-context.js';
import { waitFor } from '../helpers/wait.js';

const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');

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

  function provider(setup: string, baseImage = EC2_BASE_IMAGE): ProviderConfig {
    return configSchema.parse({
      labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'aws' }] }],
      providers: [
        {
          name: 'aws',
          driver: 'ec2',
          'region-name': emu.region,
          endpoint: emu.endpoint,
          'access-key-id': emu.credentials.accessKeyId,
          'secret-access-key': emu.credentials.secretAccessKey,
          keypair: 'nodepool',
          'max-servers': 5,
          'ssh-port': emu.sshPort,
          'poll-interval': '0.05s',
          images: [{ name: 'ubuntu', 'base-image': baseImage, 'min-ram': 2048, setup, 'private-key': keyPath, username: 'jenkins' }],
        },
      ],
    }).providers[0];
  }

  async function run(setup: string, imagesDir: string) {
    const cfg = provider(setup);
    const api = new ManagedProvider(createEc2Driver(cfg), { rateSeconds: 0.001, burst: 50, pollIntervalMs: 50 });
    const store = SqliteStore.open(join(work, `nodepool-${setup}.db`));
    const deps = { store, clock: systemClock, log: silentLogger, deploymentId: 'dep-e', runtime: testRuntime(cfg, api), readKey: (p: string) => readFile(p), imagesDir, logDir: join(work, 'logs') };
    try {
      return { row: await bake(deps, 'ubuntu') };
    } finally {
      await api.close();
      await store.close();
    }
  }

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
    const broken = join(work, 'broken-images');
    await cp(IMAGES_DIR, broken, { recursive: true });
    await writeFile(join(broken, 'fail.sh'), '#!/bin/bash\necho "about to fail"\nexit 3\n', { mode: 0o755 });
    const before = { images: emu.images().filter((i) => i.state !== 'deregistered').length, snapshots: emu.snapshots().length };
    const { row } = await run('fail.sh', broken);
    expect(row.state).toBe('failed');
    expect(row.reason).toMatch(/^setup: setup script fail\.sh exited 3/);
    expect(liveInstances().filter((i) => i.tags.Name === row.hostname)).toEqual([]);
    expect(emu.images().filter((i) => i.state !== 'deregistered').length).toBe(before.images);
    expect(emu.snapshots().length).toBe(before.snapshots);
  });
});
