// Starts emulated EC2 regions (and optionally OpenStack clouds beside them) and the daemon, with a
// config written for the test: the EC2 counterpart of pool-harness.ts, same harness shape, so
// daemon-process.ts runs it as a child process too.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { startEc2Emulator, type Ec2Emulator, type Ec2EmulatorOptions } from '../../providers/ec2/emulator/index.js';
import { startOpenStackEmulator, type OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { configSchema, type ProviderConfig } from '../../src/config.js';
import { Daemon } from '../../src/daemon.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { daemonHarness, envName, providerYaml, writeConfig, type CloudSpec, type LabelSpec } from './pool-harness.js';

export interface Ec2RegionSpec extends Ec2EmulatorOptions {
  name: string;
  maxServers: number;
  /** Provider keys that override the defaults below (fast polls). */
  settings?: Record<string, string | number>;
  /** Raw YAML lines added to the provider (e.g. `rate-limits: {...}`). */
  extraYaml?: string[];
  /** Image keys (default: debian base image, min-ram 2048, SSH with the test key). */
  image?: string;
  /** Keys added to the default image (e.g. `setup`, `image-check`, `snapshot-timeout`). */
  imageKeys?: Record<string, string | number>;
}

export interface MixedPoolHarness {
  dir: string;
  configPath: string;
  dbPath: string;
  keyPath: string;
  env: Record<string, string>;
  regions: Map<string, Ec2Emulator>;
  clouds: Map<string, OpenStackEmulator>;
  daemon: Daemon | null;
  startDaemon(log?: Logger): Promise<Daemon>;
  close(): Promise<void>;
}

const EC2_DEFAULTS: Record<string, string | number> = {
  'boot-timeout': 20,
  'launch-retries': 3,
  'poll-interval': '0.1s',
};

export const EC2_BASE_IMAGE = 'debian-12-amd64-20261101-1920';

/** A provider section as the config schema makes it (defaults filled in). */
export function ec2ProviderConfig(emu: Ec2Emulator, over: Record<string, unknown> = {}): ProviderConfig {
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
        'max-servers': 10,
        images: [{ name: 'ubuntu', 'base-image': EC2_BASE_IMAGE }],
        ...over,
      },
    ],
  }).providers[0];
}

export function ec2ProviderYaml(r: Ec2RegionSpec, emu: Ec2Emulator, keyPath: string): string {
  return [
    `  - name: ${r.name}`,
    `    driver: ec2`,
    `    region-name: ${emu.region}`,
    `    endpoint: "\${${envName('EC2_URL', r.name)}}"`,
    `    access-key-id: "\${${envName('EC2_KEY', r.name)}}"`,
    `    secret-access-key: "\${${envName('EC2_SECRET', r.name)}}"`,
    `    keypair: nodepool`,
    `    max-servers: ${r.maxServers}`,
    `    ssh-port: ${emu.sshPort}`,
    ...Object.entries({ ...EC2_DEFAULTS, ...r.settings }).map(([k, v]) => `    ${k}: ${v}`),
    ...(r.extraYaml ?? []).map((l) => `    ${l}`),
    `    images:`,
    `      - ${r.image ?? `{ name: ubuntu, base-image: ${EC2_BASE_IMAGE}, min-ram: 2048, username: jenkins, private-key: "${keyPath}"${Object.entries(r.imageKeys ?? {}).map(([k, v]) => `, ${k}: ${v}`).join('')} }`}`,
  ].join('\n');
}

export async function startMixedPool(spec: { regions: Ec2RegionSpec[]; clouds?: CloudSpec[]; labels: LabelSpec[]; extraTop?: string[]; storeWatchMs?: number }): Promise<MixedPoolHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'nodepool-ec2-test-'));
  const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const keyPath = join(dir, 'id_ecdsa');
  await writeFile(keyPath, keys.private, { mode: 0o600 });
  const env: Record<string, string> = {};
  const regions = new Map<string, Ec2Emulator>();
  const clouds = new Map<string, OpenStackEmulator>();
  const providers: string[] = [];
  let seed = 31;
  for (const r of spec.regions) {
    const emu = await startEc2Emulator({ seed: seed++, bootTimeMs: 100, terminateTimeMs: 100, sshAuthorizedKeys: [keys.public], ...r });
    regions.set(r.name, emu);
    providers.push(ec2ProviderYaml(r, emu, keyPath));
    env[envName('EC2_URL', r.name)] = emu.endpoint;
    env[envName('EC2_KEY', r.name)] = emu.credentials.accessKeyId;
    env[envName('EC2_SECRET', r.name)] = emu.credentials.secretAccessKey;
  }
  for (const c of spec.clouds ?? []) {
    const emu = await startOpenStackEmulator({ seed: seed++, bootTimeMs: 100, sshAuthorizedKeys: [keys.public], ...c });
    clouds.set(c.name, emu);
    providers.push(providerYaml(c, keyPath, emu.sshPort));
    env[envName('AUTH_URL', c.name)] = emu.authUrl;
  }
  const configPath = await writeConfig(dir, spec, providers);
  const h: MixedPoolHarness = Object.assign(
    daemonHarness({ dir, configPath, keyPath, env }, () => [...regions.values(), ...clouds.values()], spec.storeWatchMs, () => silentLogger),
    { regions, clouds },
  );
  return h;
}
