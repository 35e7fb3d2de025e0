// `npm start`: two emulated OpenStack clouds and the daemon with config/demo.yaml, database
// under ./var/. Ctrl-C stops everything and leaves no process behind.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { startOpenStackEmulator, type OpenStackEmulator } from '../providers/openstack/emulator/index.js';
import { Daemon } from './daemon.js';
import { createLogger } from './log.js';
import { startWebServer, type WebServer } from './web/server.js';

export async function runDemo(root = process.cwd()): Promise<void> {
  const varDir = resolve(root, 'var');
  await mkdir(varDir, { recursive: true });
  const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const keyPath = join(varDir, 'demo-key');
  await writeFile(keyPath, keys.private, { mode: 0o600 });

  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  const clouds: OpenStackEmulator[] = [];
  let daemon: Daemon | null = null;
  let web: WebServer | null = null;
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('demo stopping');
      await web?.close();
      await daemon?.stop();
      await Promise.allSettled(clouds.map((c) => c.close()));
    })());

  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
  try {
    for (const seed of [1, 2]) {
      clouds.push(await startOpenStackEmulator({ seed, bootTimeMs: 3000, errorRate: 0.05, sshAuthorizedKeys: [keys.public] }));
    }
    const env = {
      ...process.env,
      NODEPOOL_DEMO_CLOUD_A_URL: clouds[0].authUrl,
      NODEPOOL_DEMO_CLOUD_B_URL: clouds[1].authUrl,
      NODEPOOL_DEMO_SSH_PORT_A: String(clouds[0].sshPort),
      NODEPOOL_DEMO_SSH_PORT_B: String(clouds[1].sshPort),
      NODEPOOL_DEMO_KEY: keyPath,
    };
    const dbPath = join(varDir, 'nodepool.db');
    daemon = await Daemon.start({ configPath: resolve(root, 'config/demo.yaml'), dbPath, env, log });
    web = await startWebServer(daemon, { host: '127.0.0.1', port: 0 });
    const rel = 'var/nodepool.db';
    console.log(
      [
        '',
        'nodepool demo is running: two emulated OpenStack clouds (cloud-a, cloud-b) and the daemon.',
        'In another terminal, from this directory:',
        `  npx nodepool --db ${rel} list              # the pool: nodes building, then ready`,
        `  npx nodepool --db ${rel} hold ID --reason debugging --expire 10m`,
        `  npx nodepool --db ${rel} delete ID         # a replacement launches within a second`,
        `  curl ${web.url}/metrics                    # Prometheus metrics`,
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
