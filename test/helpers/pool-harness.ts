// Starts emulated clouds and the daemon in-process with a config written for the test.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { startOpenStackEmulator, type OpenStackEmulator, type OpenStackEmulatorOptions } from '../../providers/openstack/emulator/index.js';
import { Daemon } from '../../src/daemon.js';
import { pino } from 'pino';
import { silentLogger, type Logger } from '../../src/log.js';

export interface CloudSpec extends OpenStackEmulatorOptions {
  name: string;
  maxServers: number;
  /** Provider keys that override the harness defaults (fast polls, generous rate). */
  settings?: Record<string, string | number>;
  /** Extra keys of the provider image `ubuntu` (setup, image-check, snapshot-timeout, ...). */
  imageKeys?: Record<string, string | number>;
}

export interface LabelSpec {
  name: string;
  minReady: number;
  providers: string[];
}

export interface PoolHarness {
  dir: string;
  configPath: string;
  dbPath: string;
  keyPath: string;
  env: Record<string, string>;
  clouds: Map<string, OpenStackEmulator>;
  daemon: Daemon | null;
  startDaemon(log?: Logger): Promise<Daemon>;
  close(): Promise<void>;
}

const PROVIDER_DEFAULTS: Record<string, string | number> = {
  rate: 0.01,
  'rate-burst': 10,
  'boot-timeout': 20,
  'launch-retries': 3,
  'poll-interval': '0.1s',
};

/** The variable a provider's secret comes from: KIND_NAME, e.g. AUTH_URL_CLOUD_A. */
export function envName(kind: string, name: string): string {
  return `${kind}_${name.toUpperCase().replace(/-/g, '_')}`;
}

export function providerYaml(c: CloudSpec, keyPath: string, sshPort: number): string {
  return [
    `  - name: ${c.name}`,
    `    auth: { auth-url: "\${${envName('AUTH_URL', c.name)}}", username: admin, password: secret, project-name: demo }`,
    `    max-servers: ${c.maxServers}`,
    `    ssh-port: ${sshPort}`,
    ...Object.entries({ ...PROVIDER_DEFAULTS, ...c.settings }).map(([k, v]) => `    ${k}: ${v}`),
    `    images:`,
    `      - { name: ubuntu, base-image: ubuntu-jammy, min-ram: 2048, username: jenkins, private-key: "${keyPath}"${Object.entries(c.imageKeys ?? {}).map(([k, v]) => `, ${k}: ${v}`).join('')} }`,
  ].join('\n');
}

/** NODEPOOL_TEST_LOG=FILE keeps the daemon's debug log of a test run for a look afterwards. */
function debugLogger(): Logger | null {
  const file = process.env.NODEPOOL_TEST_LOG;
  return file ? pino({ level: 'debug' }, pino.destination({ dest: file, append: true, sync: true })) : null;
}

export async function startPool(spec: { clouds: CloudSpec[]; labels: LabelSpec[]; extraTop?: string[]; storeWatchMs?: number }): Promise<PoolHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'nodepool-test-'));
  const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const keyPath = join(dir, 'id_ed25519');
  await writeFile(keyPath, keys.private, { mode: 0o600 });
  await writeFile(`${keyPath}.pub`, keys.public);
  const env: Record<string, string> = {};
  const clouds = new Map<string, OpenStackEmulator>();
  const providers: string[] = [];
  let seed = 1;
  for (const c of spec.clouds) {
    const emu = await startOpenStackEmulator({ seed: seed++, bootTimeMs: 100, sshAuthorizedKeys: [keys.public], ...c });
    clouds.set(c.name, emu);
    providers.push(providerYaml(c, keyPath, emu.sshPort));
    env[envName('AUTH_URL', c.name)] = emu.authUrl;
  }
  const configPath = await writeConfig(dir, spec, providers);
  const h: PoolHarness = Object.assign(daemonHarness({ dir, configPath, keyPath, env }, () => [...clouds.values()], spec.storeWatchMs, () => debugLogger() ?? silentLogger), { clouds });
  return h;
}

/** Writes the test's nodepool.yaml into `dir` (labels on the image `ubuntu`, then the providers' YAML) and answers its path. */
export async function writeConfig(dir: string, spec: { labels: LabelSpec[]; extraTop?: string[] }, providers: string[]): Promise<string> {
  const yaml = [
    ...(spec.extraTop ?? []),
    'cleanup-interval: 1s',
    'labels:',
    ...spec.labels.map((l) => `  - { name: ${l.name}, image: ubuntu, min-ready: ${l.minReady}, providers: [${l.providers.map((p) => `{ name: ${p} }`).join(', ')}] }`),
    'providers:',
    ...providers,
    '',
  ].join('\n');
  const configPath = join(dir, 'nodepool.yaml');
  await writeFile(configPath, yaml);
  return configPath;
}

/** What every harness has: its files, and the daemon on them. */
export type DaemonHarness = Omit<PoolHarness, 'clouds'>;

/**
 * The daemon half of a harness: startDaemon runs the daemon on `configPath` (with a nodepool.db
 * beside it); close stops it and the emulators and removes `dir`.
 */
export function daemonHarness(
  files: { dir: string; configPath: string; keyPath: string; env: Record<string, string> },
  emulators: () => { close(): Promise<void> }[],
  storeWatchMs: number | undefined,
  defaultLog: () => Logger,
): DaemonHarness {
  const { dir, configPath, keyPath, env } = files;
  const dbPath = join(dir, 'nodepool.db');
  const h: DaemonHarness = {
    dir,
    configPath,
    dbPath,
    keyPath,
    env,
    daemon: null,
    async startDaemon(log = defaultLog()) {
      h.daemon = await Daemon.start({ configPath, dbPath, env, log, storeWatchMs: storeWatchMs ?? 100 });
      return h.daemon;
    },
    async close() {
      await h.daemon?.stop();
      await Promise.allSettled(emulators().map((c) => c.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}
