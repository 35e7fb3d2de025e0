// One image bake, as a sequence of steps logged "from -> to" with the build (image row) id:
//   boot -> active -> ssh -> upload -> setup -> snapshot -> saved -> cleanup -> ready
// Boot the provider image's base-image as a template server carrying our metadata, wait until
// it is ACTIVE and answers SSH, copy images/ to /opt/nodepool-scripts over SFTP, run the setup
// script there with NODEPOOL_* variables and the hostname as argument (output to a per-build log
// file and to debug logs), snapshot it, wait until the snapshot is active, delete the template.
// Any failure deletes the template server and any partial image and marks the build failed with
// its reason; nothing it created is left behind. The whole bake has `build-timeout`; the
// snapshot wait has `snapshot-timeout` within it.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'ssh2';
import type { Clock } from '../clock.js';
import type { ProviderImageConfig } from '../config.js';
import type { ProviderRuntime } from '../context.js';
import { LaunchError, TimeoutError, errorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { imageMetadata, type ImageRecord } from '../model.js';
import { waitForSsh } from '../ssh-check.js';
import type { Store } from '../store/store.js';
import { connectSsh, openSftp, runRemote, uploadDirectory } from './remote.js';

export const REMOTE_SCRIPTS_DIR = '/opt/nodepool-scripts';

export interface BakeDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  deploymentId: string;
  runtime: ProviderRuntime;
  readKey(path: string): Promise<Buffer>;
  /** The local images/ directory copied to the template server. */
  imagesDir: string;
  /** Where each build's setup output goes (`<provider>-<image>-<id>.log`). */
  logDir: string;
}

type Step = 'boot' | 'active' | 'ssh' | 'upload' | 'setup' | 'snapshot' | 'saved' | 'cleanup' | 'ready';

/** `template-{image}-{timestamp}`, as Nodepool 0.x names template servers (config `template-hostname` may change the pattern). */
export function templateHostname(pattern: string, image: string, timestamp: string): string {
  return pattern.replace(/\{image\}/g, image).replace(/\{timestamp\}/g, timestamp).toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

/** Bakes `image` on the runtime's provider; resolves with the image row, ready or failed. Never throws for a failed bake. */
export async function bake(deps: BakeDeps, imageName: string, signal?: AbortSignal): Promise<ImageRecord> {
  const { store, clock, runtime: rt } = deps;
  const image = rt.cfg.images.find((i) => i.name === imageName);
  if (!image?.setup) throw new RangeError(`provider ${rt.cfg.name}: image ${imageName} has no setup script to bake`);
  const started = clock.now();
  const version = new Date(started).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let row = await store.createImage({ provider: rt.cfg.name, image: imageName, version });
  const log = deps.log.child({ build: row.id, provider: rt.cfg.name, image: imageName });
  const hostname = templateHostname('template-{image}-{timestamp}', imageName, String(Math.floor(started / 1000)));
  row = await store.updateImage(row.id, { hostname });

  const deadline = new AbortController();
  const timer = new AbortController();
  clock.sleep(image['build-timeout'], timer.signal).then(
    () => deadline.abort(new TimeoutError(`build-timeout: not done after ${image['build-timeout']} ms`)),
    () => undefined,
  );
  const stop = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
  let step: Step = 'boot';
  const to = (next: Step) => {
    log.info(`build ${row.id}: ${step} -> ${next}`);
    step = next;
  };
  let serverId: string | null = null;
  let snapshotId: string | null = null;
  let conn: Client | null = null;
  try {
    const [base, flavor] = await Promise.all([rt.api.findImage(image['base-image']), rt.api.findFlavor(image['min-ram'], image['name-filter'])]);
    stop.throwIfAborted();
    const metadata = imageMetadata(deps.deploymentId, row);
    const server = await rt.api.createServer({ name: hostname, imageId: base.id, flavorId: flavor.id, metadata, keyName: rt.cfg.keypair, networks: rt.cfg.networks }, stop);
    serverId = server.id;
    await store.updateImage(row.id, { serverId });
    to('active');
    const active = await rt.api.waitForActive(serverId, remaining(clock, started, image['build-timeout']), stop);
    if (!active.ip) throw new LaunchError(`template server ${serverId} is ACTIVE but has no usable address for SSH`);
    to('ssh');
    const key = await deps.readKey(image['private-key']);
    const target = { host: active.ip, port: rt.cfg['ssh-port'], username: image.username, privateKey: key };
    await waitForSsh(target, { timeoutMs: Math.min(rt.cfg['boot-timeout'], remaining(clock, started, image['build-timeout'])), clock, signal: stop, keyName: image['private-key'] });
    conn = await connectSsh(target, 30_000);
    to('upload');
    const files = await uploadDirectory(await openSftp(conn), deps.imagesDir, REMOTE_SCRIPTS_DIR);
    log.debug({ files }, 'images/ copied to the template server');
    to('setup');
    await runSetup(deps, conn, image, row, hostname, active.az, log, stop);
    conn.end();
    conn = null;
    to('snapshot');
    snapshotId = await rt.api.createImage(serverId, `${imageName}-${version}`, metadata, stop);
    await store.updateImage(row.id, { externalId: snapshotId });
    to('saved');
    await waitForSnapshot(deps, snapshotId, Math.min(image['snapshot-timeout'], remaining(clock, started, image['build-timeout'])), stop);
    to('cleanup');
    await removeServer(rt, serverId, stop);
    serverId = null;
    to('ready');
    return await store.transitionImage(row.id, 'ready', { reason: `baked in ${Math.round((clock.now() - started) / 1000)} s` });
  } catch (caught) {
    const err = deadline.signal.aborted ? deadline.signal.reason : caught;
    const reason = `${step}: ${(err as Error).message}`;
    log.warn({ err, step, reason: errorCode(err) }, `build ${row.id}: ${step} -> failed`);
    conn?.end();
    // Leave nothing behind, whatever the step: the template server, then any partial image.
    const cleanup = AbortSignal.timeout(10 * 60_000);
    if (serverId) await removeServer(rt, serverId, cleanup).catch((e) => log.warn({ err: e, server: serverId }, 'could not delete the template server; cleanup will find it by its metadata'));
    if (snapshotId) await rt.api.deleteImage(snapshotId).catch((e) => log.warn({ err: e, snapshot: snapshotId }, 'could not delete the partial image; cleanup will find it by its metadata'));
    return store.transitionImage(row.id, 'failed', { reason, patch: { reason } });
  } finally {
    timer.abort();
  }
}

function remaining(clock: Clock, started: number, budget: number): number {
  return Math.max(1, budget - (clock.now() - started));
}

async function runSetup(deps: BakeDeps, conn: Client, image: ProviderImageConfig, row: ImageRecord, hostname: string, az: string | null, log: Logger, signal: AbortSignal): Promise<void> {
  const cfg = deps.runtime.cfg;
  await mkdir(deps.logDir, { recursive: true });
  const file = join(deps.logDir, `${row.provider}-${row.image}-${row.id}.log`);
  const out = createWriteStream(file, { flags: 'a' });
  try {
    const env = {
      NODEPOOL_PROVIDER: cfg.name,
      NODEPOOL_IMAGE: row.image,
      NODEPOOL_CLOUD: cfg.name,
      NODEPOOL_REGION: cfg['region-name'] ?? '',
      NODEPOOL_AZ: az ?? '',
    };
    const result = await runRemote(conn, [`${REMOTE_SCRIPTS_DIR}/${image.setup}`, hostname], {
      env,
      signal,
      onOutput: (chunk, stream) => {
        out.write(chunk);
        log.debug({ stream, output: chunk.trimEnd() }, 'setup output');
      },
    });
    if (result.code !== 0) throw new LaunchError(`setup script ${image.setup} exited ${result.code ?? `on signal ${result.signal}`} (log: ${file})`);
  } finally {
    await new Promise<void>((resolve) => out.end(resolve));
  }
}

async function waitForSnapshot(deps: BakeDeps, id: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const { clock, runtime: rt } = deps;
  const until = clock.now() + timeoutMs;
  for (;;) {
    const img = (await rt.api.listImages(signal)).find((i) => i.id === id);
    if (img?.status === 'active') return;
    if (!img) throw new LaunchError(`snapshot ${id} vanished while saving`);
    if (img.status === 'error') throw new LaunchError(`snapshot ${id} failed in the cloud (${img.status})`);
    if (clock.now() >= until) throw new TimeoutError(`snapshot-timeout: snapshot ${id} not active after ${timeoutMs} ms (still ${img.status})`);
    await clock.sleep(Math.min(rt.cfg['poll-interval'], Math.max(1, until - clock.now())), signal);
  }
}

async function removeServer(rt: ProviderRuntime, id: string, signal: AbortSignal): Promise<void> {
  await rt.api.deleteServer(id, signal);
  await rt.api.waitForGone(id, 10 * 60_000, signal);
}
