// For the bake and image-builder tests of each cloud: one image bake through the real
// ManagedProvider, the images/ scripts with a setup that fails, a rebuild asked of the daemon, and
// a file read over SSH on a node.
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { bake } from '../../src/builder/bake.js';
import { runRemote } from '../../src/builder/remote.js';
import { systemClock } from '../../src/clock.js';
import { configSchema, type ProviderConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { ImageRecord } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { ManagedProvider } from '../../providers/managed-provider.js';
import type { OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import type { ProviderDriver } from '../../providers/provider.js';
import { testRuntime } from './pool-context.js';
import { waitFor } from './wait.js';

export const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');

/** Provider `emulated` on the OpenStack emulator `emu` for a bake: image ubuntu (ubuntu-jammy) with `setup`, SSH as jenkins with `keyPath`. */
export function openStackBakeProvider(emu: OpenStackEmulator, keyPath: string, setup: string): ProviderConfig {
  return configSchema.parse({
    labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'emulated' }] }],
    providers: [
      {
        name: 'emulated',
        auth: { 'auth-url': emu.authUrl, username: 'admin', password: 'secret', 'project-name': 'demo' },
        'max-servers': 5,
        'ssh-port': emu.sshPort,
        'poll-interval': '0.05s',
        images: [{ name: 'ubuntu', 'base-image': 'ubuntu-jammy', setup, 'private-key': keyPath, username: 'jenkins' }],
      },
    ],
  }).providers[0];
}

/**
 * Bakes image `ubuntu` of `cfg` on `driver` with the scripts in `imagesDir`, a store of its own
 * (nodepool-SETUP.db) and build logs under `work`/logs; the image row. Closes the provider and store.
 */
export async function bakeOnce(o: { cfg: ProviderConfig; driver: ProviderDriver; work: string; setup: string; imagesDir: string; deploymentId: string }) {
  const api = new ManagedProvider(o.driver, { rateSeconds: 0.001, burst: 50, pollIntervalMs: 50 });
  const store = SqliteStore.open(join(o.work, `nodepool-${o.setup}.db`));
  const deps = { store, clock: systemClock, log: silentLogger, deploymentId: o.deploymentId, runtime: testRuntime(o.cfg, api), readKey: (p: string) => readFile(p), imagesDir: o.imagesDir, logDir: join(o.work, 'logs') };
  try {
    return { row: await bake(deps, 'ubuntu') };
  } finally {
    await api.close();
    await store.close();
  }
}

/** A copy of images/ in `work`/broken-images with fail.sh, a setup that prints a line and exits 3; its path. */
export async function brokenImages(work: string): Promise<string> {
  const broken = join(work, 'broken-images');
  await cp(IMAGES_DIR, broken, { recursive: true });
  await writeFile(join(broken, 'fail.sh'), '#!/bin/bash\necho "about to fail"\nexit 3\n', { mode: 0o755 });
  return broken;
}

/**
 * Asks for a build of `provider`'s image ubuntu as `image-update` does, waits until it ended
 * (`timeoutMs` for that, default 30 s), then until `leftovers()` is empty (`what` names them); the row.
 */
export async function requestRebuild(store: Store, provider: string, leftovers: () => unknown[], what: string, timeoutMs?: number): Promise<ImageRecord> {
  const req = await store.requestImageBuild(provider, 'ubuntu');
  const rowId = await waitFor(async () => (await store.getImageRequest(req.id))?.imageId, { what: 'the daemon to take the request' });
  const row = await waitFor(async () => {
    const r = await store.getImage(rowId);
    return r && r.state !== 'building' ? r : undefined;
  }, { what: `build ${rowId} to end`, timeoutMs });
  await waitFor(() => leftovers().length === 0, { what });
  return row;
}

/** The text of `path` on `host`, read over SSH (`port`) as jenkins with the private key `key`. */
export async function readOverSsh(host: string, port: number, key: string, path: string): Promise<string> {
  const conn = new ssh2.Client();
  await new Promise<void>((resolve, reject) =>
    conn.on('ready', () => resolve()).on('error', reject).connect({ host, port, username: 'jenkins', privateKey: key, hostVerifier: () => true }),
  );
  let out = '';
  try {
    await runRemote(conn, ['cat', path], { onOutput: (c) => (out += c) });
  } finally {
    conn.end();
  }
  return out;
}
