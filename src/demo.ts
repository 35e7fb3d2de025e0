// `npm start`: two emulated OpenStack clouds and an emulated EC2 region, a real gearmand (when
// installed) with a simulated Jenkins master and a job load, and the daemon with config/demo.yaml;
// database under ./var/.
// Ctrl-C stops everything and leaves no process behind.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { parseDocument, YAMLSeq, YAMLMap } from 'yaml';
import { startOpenStackEmulator, type OpenStackEmulator } from '../providers/openstack/emulator/index.js';
import { startEc2Emulator, type Ec2Emulator } from '../providers/ec2/emulator/index.js';
import { Daemon } from './daemon.js';
import { createLogger } from './log.js';
import { startWebServer, type WebServer } from './web/server.js';
import { findGearmand, startGearmand, type Gearmand } from './sim/gearmand.js';
import { startSimMaster, type SimMaster } from './sim/master.js';
import { startLoad, type Load } from './sim/load.js';
import { findBwrap } from '../providers/openstack/emulator/sandbox.js';

const CI_KEYS = ['gearman-servers', 'zmq-publishers', 'targets', 'jobs'];

/** The demo config without image bakes (no setup or image-check): for a machine without bubblewrap. */
export function withoutBakes(text: string): string {
  const doc = parseDocument(text);
  const providers = doc.get('providers');
  if (!(providers instanceof YAMLSeq)) return text;
  for (const p of providers.items) {
    const images = p instanceof YAMLMap ? p.get('images') : null;
    if (images instanceof YAMLSeq) for (const i of images.items) if (i instanceof YAMLMap) for (const k of ['setup', 'image-check']) i.delete(k);
  }
  return doc.toString();
}

/** The demo config without the CI loop: for a machine without gearmand. */
export function withoutCiLoop(text: string): string {
  const doc = parseDocument(text);
  for (const key of CI_KEYS) doc.delete(key);
  const labels = doc.get('labels');
  if (labels instanceof YAMLSeq) for (const label of labels.items) if (label instanceof YAMLMap) label.delete('target');
  return doc.toString();
}

export async function runDemo(root = process.cwd()): Promise<void> {
  const varDir = resolve(root, 'var');
  await mkdir(varDir, { recursive: true });
  const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const keyPath = join(varDir, 'demo-key');
  await writeFile(keyPath, keys.private, { mode: 0o600 });

  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  const clouds: OpenStackEmulator[] = [];
  const regions: Ec2Emulator[] = [];
  let gearmand: Gearmand | null = null;
  let sim: SimMaster | null = null;
  let load: Load | null = null;
  let daemon: Daemon | null = null;
  let web: WebServer | null = null;
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('demo stopping');
      await load?.stop();
      await web?.close();
      await daemon?.stop();
      await sim?.close();
      await gearmand?.stop();
      await Promise.allSettled([...clouds, ...regions].map((c) => c.close()));
    })());
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));

  try {
    // With bubblewrap the emulated VMs run the setup scripts for real, each in its own tree under
    // var/sandbox, and snapshots carry those trees: the daemon bakes images/ before it launches.
    const bakes = findBwrap() !== null;
    const sandboxRoot = join(varDir, 'sandbox');
    await rm(sandboxRoot, { recursive: true, force: true });
    for (const seed of [1, 2]) {
      const sandboxDir = bakes ? join(sandboxRoot, `cloud-${seed}`) : undefined;
      if (sandboxDir) await mkdir(sandboxDir, { recursive: true });
      clouds.push(await startOpenStackEmulator({ seed, bootTimeMs: 3000, errorRate: 0.05, sshAuthorizedKeys: [keys.public], sandboxDir }));
    }
    const ec2SandboxDir = bakes ? join(sandboxRoot, 'aws') : undefined;
    if (ec2SandboxDir) await mkdir(ec2SandboxDir, { recursive: true });
    regions.push(await startEc2Emulator({ seed: 3, region: 'us-east-1', bootTimeMs: 3000, sshAuthorizedKeys: [keys.public], sandboxDir: ec2SandboxDir }));
    const env: Record<string, string | undefined> = {
      ...process.env,
      NODEPOOL_DEMO_CLOUD_A_URL: clouds[0].authUrl,
      NODEPOOL_DEMO_CLOUD_B_URL: clouds[1].authUrl,
      NODEPOOL_DEMO_SSH_PORT_A: String(clouds[0].sshPort),
      NODEPOOL_DEMO_SSH_PORT_B: String(clouds[1].sshPort),
      NODEPOOL_DEMO_EC2_URL: regions[0].endpoint,
      NODEPOOL_DEMO_EC2_KEY: regions[0].credentials.accessKeyId,
      NODEPOOL_DEMO_EC2_SECRET: regions[0].credentials.secretAccessKey,
      NODEPOOL_DEMO_SSH_PORT_EC2: String(regions[0].sshPort),
      NODEPOOL_DEMO_KEY: keyPath,
      NODEPOOL_DEMO_SCRIPTS_DIR: resolve(root, 'images'),
    };
    let configText = await readFile(resolve(root, 'config/demo.yaml'), 'utf8');
    if (!bakes) {
      console.log('bubblewrap is not installed: the demo boots its base images without baking. To bake images/ first:\n  apt-get install -y bubblewrap\n');
      configText = withoutBakes(configText);
    }
    if (findGearmand()) {
      gearmand = await startGearmand();
      const token = 'demo-token';
      const server = { host: gearmand.host, port: gearmand.port };
      sim = await startSimMaster({
        gearman: [server],
        user: 'nodepool',
        apiToken: token,
        buildDurationMs: (job) => (job === 'integration' ? 12_000 : 6_000),
        buildResult: (job, n) => (job === 'integration' && n % 4 === 0 ? 'FAILURE' : 'SUCCESS'),
        jobs: [
          { name: 'unit', labels: ['small'] },
          { name: 'integration', labels: ['large'] },
        ],
        log,
      });
      Object.assign(env, {
        NODEPOOL_DEMO_GEARMAN_PORT: String(gearmand.port),
        NODEPOOL_DEMO_ZMQ_URL: sim.zmqUrl,
        NODEPOOL_DEMO_JENKINS_URL: sim.jenkinsUrl,
        NODEPOOL_DEMO_JENKINS_TOKEN: token,
      });
      load = startLoad({
        gearman: [server],
        jobs: [
          { name: 'unit', label: 'small' },
          { name: 'unit', label: 'small' },
          { name: 'integration', label: 'large' },
        ],
        ratePerSecond: 0.5,
        count: 100_000,
        log,
      });
    } else {
      console.log('gearmand is not installed: the demo runs on min-ready alone. For the whole CI loop:\n  apt-get install -y gearman-job-server\n');
      configText = withoutCiLoop(configText);
    }
    const configPath = join(varDir, 'demo.yaml');
    // The emulated clouds are new on every start, so the pool's database starts empty too.
    const dbPath = join(varDir, 'nodepool.db');
    await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(dbPath + suffix, { force: true })));
    await writeFile(configPath, configText);
    daemon = await Daemon.start({ configPath, dbPath, env, log });
    web = await startWebServer(daemon, { host: '127.0.0.1', port: 0 });
    const db = 'var/nodepool.db';
    console.log(
      [
        '',
        `nodepool demo is running: two emulated OpenStack clouds, an emulated EC2 region${sim ? ', gearmand, a simulated Jenkins master and a job load' : ''}.`,
        'In another terminal, from this directory:',
        `  npx nodepool --db ${db} list              # nodes: building, ready, in-use, used, deleting`,
        `  npx nodepool --db ${db} hold ID --reason debugging --expire 10m`,
        `  npx nodepool --db ${db} delete ID         # a replacement launches within a second`,
        bakes
          ? `  npx nodepool --db ${db} image-list        # the image baked from images/setup.sh (small nodes boot it)`
          : `  npx nodepool --db ${db} image-list        # baked images (none here: without bubblewrap nothing is baked)`,
        `  ${web.url}/ in a browser                   # live status page: labels x providers, pool chart, events, images`,
        `  curl ${web.url}/metrics                    # Prometheus metrics (also /health, /api/nodes)`,
        ...(sim ? [`  curl -u nodepool:demo-token ${sim.jenkinsUrl}computer/api/json   # the master's nodes`] : []),
        'Ctrl-C stops the demo.',
        '',
      ].join('\n'),
    );
    await new Promise<void>(() => undefined);
  } catch (err) {
    log.error({ err }, 'demo failed');
    await stop();
    process.exitCode = 1;
  }
}
