// An OpenStack emulator whose VMs run commands for real (bubblewrap sandboxes), with our driver
// logged in and helpers to boot a server and open SSH to it. For tests of baking and images.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { configSchema } from '../../src/config.js';
import { createOpenStackDriver } from '../../providers/openstack/driver.js';
import { startOpenStackEmulator, type OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import type { CloudServer, ProviderDriver } from '../../providers/provider.js';
import { waitFor } from './wait.js';

export interface SandboxCloud {
  emu: OpenStackEmulator;
  driver: ProviderDriver;
  /** The emulator's sandbox directory (servers/<id>, images/<id>). */
  dir: string;
  baseImage: string;
  keys: { private: string; public: string };
  /** Creates a server and waits until it is ACTIVE with an address. */
  boot(imageId: string, name: string): Promise<CloudServer>;
  /** An SSH connection to a booted server, as user jenkins. */
  connect(host: string): Promise<ssh2.Client>;
  close(): Promise<void>;
}

export async function startSandboxCloud(seed: number): Promise<SandboxCloud> {
  const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-cloud-'));
  const emu = await startOpenStackEmulator({ seed, bootTimeMs: 50, imageTimeMs: 50, sshAuthorizedKeys: [keys.public], sandboxDir: dir });
  const cfg = configSchema.parse({
    labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'emulated' }] }],
    providers: [{ name: 'emulated', auth: { 'auth-url': emu.authUrl, username: 'admin', password: 'secret', 'project-name': 'demo' }, 'max-servers': 5, images: [{ name: 'ubuntu', 'base-image': 'ubuntu-jammy' }] }],
  }).providers[0];
  const driver = createOpenStackDriver(cfg);
  const baseImage = (await driver.listImages()).find((i) => i.status === 'active')!.id;
  const flavorId = (await driver.listFlavors()).sort((a, b) => a.ramMb - b.ramMb)[0].id;
  return {
    emu,
    driver,
    dir,
    baseImage,
    keys,
    async boot(imageId, name) {
      const s = await driver.createServer({ name, imageId, flavorId, metadata: {} });
      return waitFor(async () => {
        const got = await driver.getServer(s.id);
        return got.status === 'active' && got.ip ? got : undefined;
      }, { what: `${name} active` });
    },
    async connect(host) {
      const conn = new ssh2.Client();
      await new Promise<void>((resolve, reject) =>
        conn.on('ready', () => resolve()).on('error', reject).connect({ host, port: emu.sshPort, username: 'jenkins', privateKey: keys.private, hostVerifier: () => true }),
      );
      return conn;
    },
    async close() {
      await driver.close();
      await emu.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
