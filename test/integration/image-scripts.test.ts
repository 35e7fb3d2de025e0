// The example scripts in images/ as the builder uses them: copied in over SFTP, setup run with
// the NODEPOOL_* variables on a template server, snapshot, and the image check on a node booted
// from it (and failing on one that was not baked). Runs on the emulator's sandboxed VMs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';
import { openSftp, runRemote, uploadDirectory, commandLine } from '../../src/builder/remote.js';
import { createOpenStackDriver } from '../../providers/openstack/driver.js';
import { startOpenStackEmulator, type OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import type { CloudServer, ProviderDriver } from '../../providers/provider.js';
import { waitFor } from '../helpers/wait.js';

const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');
const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });

describe('commandLine', () => {
  it('quotes words and puts variables in front through env', () => {
    expect(commandLine(['/opt/x.sh', "it's"], { NODEPOOL_IMAGE: 'a b' })).toBe(`env NODEPOOL_IMAGE='a b' '/opt/x.sh' 'it'\\''s'`);
    expect(() => commandLine(['x'], { 'BAD-NAME': '1' })).toThrow(/bad environment variable name/);
  });
});

describe.skipIf(!findBwrap())('images/ scripts on emulated VMs', () => {
  let emu: OpenStackEmulator;
  let driver: ProviderDriver;
  let dir: string;
  let flavorId: string;
  let baseImage: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'image-scripts-'));
    emu = await startOpenStackEmulator({ seed: 5, bootTimeMs: 50, imageTimeMs: 50, sshAuthorizedKeys: [keys.public], sandboxDir: dir });
    const cfg = configSchema.parse({
      labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'emulated' }] }],
      providers: [{ name: 'emulated', auth: { 'auth-url': emu.authUrl, username: 'admin', password: 'secret', 'project-name': 'demo' }, 'max-servers': 5, images: [{ name: 'ubuntu', 'base-image': 'ubuntu-jammy' }] }],
    }).providers[0];
    driver = createOpenStackDriver(cfg);
    baseImage = (await driver.listImages()).find((i) => i.status === 'active')!.id;
    flavorId = (await driver.listFlavors()).sort((a, b) => a.ramMb - b.ramMb)[0].id;
  });

  afterAll(async () => {
    await driver?.close();
    await emu?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function boot(imageId: string, name: string): Promise<CloudServer> {
    const s = await driver.createServer({ name, imageId, flavorId, metadata: {} });
    return waitFor(async () => {
      const got = await driver.getServer(s.id);
      return got.status === 'active' && got.ip ? got : undefined;
    }, { what: `${name} active` });
  }

  async function connect(host: string): Promise<ssh2.Client> {
    const conn = new ssh2.Client();
    await new Promise<void>((resolve, reject) => conn.on('ready', () => resolve()).on('error', reject).connect({ host, port: emu.sshPort, username: 'jenkins', privateKey: keys.private, hostVerifier: () => true }));
    return conn;
  }

  it('setup bakes the marker into the snapshot; the check passes on a node booted from it and fails on one that was not', async () => {
    const template = await boot(baseImage, 'template-ubuntu-1');
    const conn = await connect(template.ip!);
    let output = '';
    try {
      const copied = await uploadDirectory(await openSftp(conn), IMAGES_DIR, '/opt/nodepool-scripts');
      expect(copied).toBeGreaterThanOrEqual(3);
      const env = { NODEPOOL_PROVIDER: 'emulated', NODEPOOL_IMAGE: 'ubuntu', NODEPOOL_CLOUD: 'emulated', NODEPOOL_REGION: '', NODEPOOL_AZ: 'nova' };
      const r = await runRemote(conn, ['/opt/nodepool-scripts/setup.sh', 'template-ubuntu-1'], { env, onOutput: (c) => (output += c) });
      expect(r, output).toEqual({ code: 0, signal: null });
      expect(output).toMatch(/setup: baking ubuntu for emulated on template-ubuntu-1/);
    } finally {
      conn.end();
    }
    const imageId = await driver.createImage(template.id, 'ubuntu-1', {});
    await waitFor(async () => ((await driver.listImages()).find((i) => i.id === imageId)?.status === 'active' ? true : undefined), { what: 'snapshot active' });

    const node = await boot(imageId, 'node-from-snapshot');
    const nodeConn = await connect(node.ip!);
    try {
      let out = '';
      // The scripts directory came along in the snapshot too.
      expect(await runRemote(nodeConn, ['/opt/nodepool-scripts/check.sh'], { onOutput: (c) => (out += c) })).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/check: ok \(image=ubuntu\)/);
    } finally {
      nodeConn.end();
    }

    const fresh = await boot(baseImage, 'node-unbaked');
    const freshConn = await connect(fresh.ip!);
    try {
      await uploadDirectory(await openSftp(freshConn), IMAGES_DIR, '/opt/nodepool-scripts');
      let err = '';
      const r = await runRemote(freshConn, ['/opt/nodepool-scripts/check.sh'], { onOutput: (c, s) => (s === 'stderr' ? (err += c) : undefined) });
      expect(r.code).toBe(1);
      expect(err).toMatch(/image-info is missing/);
    } finally {
      freshConn.end();
    }
  });
});
