// One image bake, as a sequence of steps logged "from -> to" with the build (image row) id and
// kept on the row (`step`), so image-list and image-update show where a bake is:
//   boot -> active -> ssh -> upload -> setup -> snapshot -> saved -> cleanup -> validate -> ready
// Boot the provider image's base-image as a template server carrying our metadata, wait until
// it is ACTIVE and answers SSH, copy images/ to /opt/nodepool-scripts over SFTP, run the setup
// script there with NODEPOOL_* variables and the hostname as argument (output to a per-build log
// file and to debug logs), snapshot it, wait until the snapshot is active, delete the template.
// Then validate: boot one test server from the snapshot, wait for SSH, run the image-check
// script if configured (exit 0 = good), delete the test server. Only then is the image ready
// (current). Any failure deletes the template or test server and the snapshot and marks the
// build failed with its reason; nothing it created is left behind (what a crash leaves, the
// builder's recovery and the leak rule remove). The whole bake has `build-timeout`; the snapshot
// wait has `snapshot-timeout` within it.
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Client } from 'ssh2';
import type { Clock } from '../clock.js';
import type { ProviderImageConfig } from '../config.js';
import type { ProviderRuntime } from '../context.js';
import { InvalidTransitionError, LaunchError, TimeoutError, errorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { imageMetadata, type ImageRecord } from '../model.js';
import { waitForSsh } from '../ssh-check.js';
import type { Store } from '../store/store.js';
import type { CloudServer } from '../../providers/provider.js';
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

export const BAKE_STEPS = ['boot', 'active', 'ssh', 'upload', 'setup', 'snapshot', 'saved', 'cleanup', 'validate', 'ready'] as const;
export type BakeStep = (typeof BAKE_STEPS)[number];

/** `template-{image}-{timestamp}`, as Nodepool 0.x names template servers (config `template-hostname` may change the pattern). */
export function templateHostname(pattern: string, image: string, timestamp: string): string {
  return pattern.replace(/\{image\}/g, image).replace(/\{timestamp\}/g, timestamp).toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

/** The image version: the bake's start time, `20261202T021400Z` (sorts as it ages). */
export function imageVersion(startedMs: number): string {
  return new Date(startedMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Creates the build's row (state building) for `image`; `bake` then runs it. */
export async function startBuild(deps: Pick<BakeDeps, 'store' | 'clock' | 'runtime'>, imageName: string): Promise<ImageRecord> {
  const { store, clock, runtime: rt } = deps;
  const image = rt.cfg.images.find((i) => i.name === imageName);
  if (!image?.setup) throw new RangeError(`provider ${rt.cfg.name}: image ${imageName} has no setup script to bake`);
  const started = clock.now();
  const row = await store.createImage({ provider: rt.cfg.name, image: imageName, version: imageVersion(started) });
  const hostname = templateHostname(image['template-hostname'], imageName, String(Math.floor(started / 1000)));
  return store.updateImage(row.id, { hostname, step: 'boot' });
}

/**
 * Bakes `image` on the runtime's provider (a new row, or the one `startBuild` made); resolves
 * with the image row, ready or failed. Never throws for a failed bake.
 */
export async function bake(deps: BakeDeps, imageOrRow: string | ImageRecord, signal?: AbortSignal): Promise<ImageRecord> {
  const { store, clock, runtime: rt } = deps;
  let row = typeof imageOrRow === 'string' ? await startBuild(deps, imageOrRow) : imageOrRow;
  const imageName = row.image;
  const image = rt.cfg.images.find((i) => i.name === imageName);
  if (!image?.setup) throw new RangeError(`provider ${rt.cfg.name}: image ${imageName} has no setup script to bake`);
  const started = row.created;
  const hostname = row.hostname!;
  const log = deps.log.child({ build: row.id, provider: rt.cfg.name, image: imageName });

  const deadline = new AbortController();
  const timer = new AbortController();
  clock.sleep(remaining(clock, started, image['build-timeout']), timer.signal).then(
    () => deadline.abort(new TimeoutError(`build-timeout: not done after ${image['build-timeout']} ms`)),
    () => undefined,
  );
  const stop = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
  let step: BakeStep = 'boot';
  const to = async (next: BakeStep) => {
    log.info(`build ${row.id}: ${step} -> ${next}`);
    step = next;
    row = await store.updateImage(row.id, { step });
  };
  let serverId: string | null = null;
  let snapshotId: string | null = null;
  let conn: Client | null = null;
  const budget = () => remaining(clock, started, image['build-timeout']);
  try {
    const [base, flavor] = await Promise.all([rt.api.findImage(image['base-image']), rt.api.findFlavor(image['min-ram'], image['name-filter'])]);
    stop.throwIfAborted();
    const metadata = imageMetadata(deps.deploymentId, row);
    // One server at a time: its id is on the row before anything else happens, so a crash leaves it findable.
    const boot = async (name: string, imageId: string): Promise<CloudServer> => {
      const server = await rt.api.createServer({ name, imageId, flavorId: flavor.id, metadata, keyName: rt.cfg.keypair, networks: rt.cfg.networks }, stop);
      serverId = server.id;
      await store.updateImage(row.id, { serverId });
      return server;
    };
    await boot(hostname, base.id);
    await to('active');
    const active = await rt.api.waitForActive(serverId!, budget(), stop);
    await to('ssh');
    conn = await sshTo(deps, image, active, 'template', stop, budget());
    await to('upload');
    const files = await installScripts(deps, conn, row);
    log.debug({ files }, 'scripts copied to the template server');
    await to('setup');
    await runScript(deps, conn, image.setup, row, hostname, active.az, log, stop, 'setup');
    conn.end();
    conn = null;
    await to('snapshot');
    snapshotId = await rt.api.createImage(serverId!, `${imageName}-${row.version}`, metadata, stop);
    await store.updateImage(row.id, { externalId: snapshotId });
    await to('saved');
    await waitForSnapshot(deps, snapshotId, Math.min(image['snapshot-timeout'], budget()), stop);
    await to('cleanup');
    await removeServer(rt, serverId!, stop);
    serverId = null;
    await store.updateImage(row.id, { serverId: null });
    await to('validate');
    await validate(deps, image, row, boot, log, stop, budget);
    await removeServer(rt, serverId!, stop);
    serverId = null;
    await store.updateImage(row.id, { serverId: null });
    const took = Math.round((clock.now() - started) / 1000);
    log.info(`build ${row.id}: validate -> ready`);
    return await store.transitionImage(row.id, 'ready', { reason: `baked and validated in ${took} s`, patch: { step: 'ready' } });
  } catch (caught) {
    const err = deadline.signal.aborted ? deadline.signal.reason : caught;
    const reason = `${step}: ${(err as Error).message}`;
    log.warn({ err, step, reason: errorCode(err) }, `build ${row.id}: ${step} -> failed`);
    conn?.end();
    // Leave nothing behind, whatever the step: the template or test server, then any partial image.
    const cleanup = AbortSignal.timeout(10 * 60_000);
    const leftServer: string | null = serverId;
    if (leftServer) {
      await removeServer(rt, leftServer, cleanup).then(
        // Gone: image-list must not show a server id that no longer exists.
        () => store.updateImage(row.id, { serverId: null }),
        (e) => log.warn({ err: e, server: leftServer }, 'could not delete the bake server; cleanup will find it by its metadata'),
      );
    }
    if (snapshotId) await rt.api.deleteImage(snapshotId).catch((e) => log.warn({ err: e, snapshot: snapshotId }, 'could not delete the partial image; cleanup will find it by its metadata'));
    return failed(store, row.id, reason);
  } finally {
    timer.abort();
  }
}

/** Marks the build failed; a row an operator deleted meanwhile stays deleting. */
async function failed(store: Store, id: number, reason: string): Promise<ImageRecord> {
  try {
    return await store.transitionImage(id, 'failed', { reason, patch: { reason } });
  } catch (err) {
    const row = await store.getImage(id);
    if (err instanceof InvalidTransitionError && row) return row;
    throw err;
  }
}

/**
 * Copies the scripts directory to /opt/nodepool-scripts. The login user of a cloud image is
 * rarely root, so the files go over SFTP to its home first and are moved into place as root
 * (directly, or through passwordless sudo, as on stock cloud images). Returns the files copied.
 */
async function installScripts(deps: BakeDeps, conn: Client, row: ImageRecord): Promise<number> {
  const staging = `nodepool-scripts-${row.id}`;
  const files = await uploadDirectory(await openSftp(conn), deps.imagesDir, staging);
  const script = [
    'set -e',
    'if [ "$(id -u)" -eq 0 ]; then S=; else S="sudo -n"; fi',
    `$S rm -rf ${REMOTE_SCRIPTS_DIR}`,
    `$S mkdir -p ${posix.dirname(REMOTE_SCRIPTS_DIR)}`,
    `$S mv "$HOME/${staging}" ${REMOTE_SCRIPTS_DIR}`,
    `$S chmod -R a+rX ${REMOTE_SCRIPTS_DIR}`,
  ].join('; ');
  let err = '';
  const result = await runRemote(conn, ['sh', '-c', script], { onOutput: (chunk, stream) => void (stream === 'stderr' && (err += chunk)) });
  if (result.code !== 0) {
    const why = err.trim().split('\n').pop() ?? '';
    throw new LaunchError(`cannot install the scripts in ${REMOTE_SCRIPTS_DIR} (the login user needs to be root or to have passwordless sudo): ${why || `exit ${result.code}`}`);
  }
  return files;
}

/** Waits until the server answers SSH and logs in (the template, or a test server). */
async function sshTo(deps: BakeDeps, image: ProviderImageConfig, server: CloudServer, role: string, signal: AbortSignal, budgetMs: number): Promise<Client> {
  const rt = deps.runtime;
  if (!server.ip) throw new LaunchError(`${role} server ${server.id} is ACTIVE but has no usable address for SSH`);
  const key = await deps.readKey(image['private-key']);
  const target = { host: server.ip, port: rt.cfg['ssh-port'], username: image.username, privateKey: key };
  await waitForSsh(target, { timeoutMs: Math.min(rt.cfg['boot-timeout'], budgetMs), clock: deps.clock, signal, keyName: image['private-key'] });
  return connectSsh(target, 30_000);
}

/**
 * Boots a test server from the new snapshot: it must become ACTIVE and answer SSH, and the
 * image-check script (when configured) must exit 0 on it. Throws with the reason otherwise.
 */
async function validate(
  deps: BakeDeps,
  image: ProviderImageConfig,
  row: ImageRecord,
  boot: (name: string, imageId: string) => Promise<CloudServer>,
  log: Logger,
  signal: AbortSignal,
  budget: () => number,
): Promise<void> {
  const rt = deps.runtime;
  const name = `${row.hostname}-check`;
  const server = await boot(name, row.externalId!);
  const active = await rt.api.waitForActive(server.id, budget(), signal);
  if (!image['host-key-checking'] && !image['image-check']) return;
  const conn = await sshTo(deps, image, active, 'test', signal, budget());
  try {
    if (!image['image-check']) return;
    await installScripts(deps, conn, row);
    await runScript(deps, conn, image['image-check'], row, name, active.az, log, signal, 'image-check');
  } finally {
    conn.end();
  }
}

function remaining(clock: Clock, started: number, budget: number): number {
  return Math.max(1, budget - (clock.now() - started));
}

/**
 * Runs a script from images/ on the server with the NODEPOOL_* variables and the hostname as
 * argument; its output goes to the build's log file and to debug logs. A non-zero exit throws,
 * with the script's last line of stderr as the reason.
 */
async function runScript(deps: BakeDeps, conn: Client, script: string, row: ImageRecord, hostname: string, az: string | null, log: Logger, signal: AbortSignal, role: 'setup' | 'image-check'): Promise<void> {
  const cfg = deps.runtime.cfg;
  await mkdir(deps.logDir, { recursive: true });
  const file = join(deps.logDir, `${row.provider}-${row.image}-${row.id}.log`);
  const out: WriteStream = createWriteStream(file, { flags: 'a' });
  // A log that cannot be written (a full disk, a bad path) fails the bake; unheard, its 'error' would kill the daemon.
  let logError: Error | null = null;
  out.on('error', (err) => (logError ??= err));
  let lastErr = '';
  try {
    out.write(`--- ${role}: ${script} ${hostname}\n`);
    const env = {
      NODEPOOL_PROVIDER: cfg.name,
      NODEPOOL_IMAGE: row.image,
      NODEPOOL_CLOUD: cfg.name,
      NODEPOOL_REGION: cfg['region-name'] ?? '',
      NODEPOOL_AZ: az ?? '',
    };
    const result = await runRemote(conn, [`${REMOTE_SCRIPTS_DIR}/${script}`, hostname], {
      env,
      signal,
      onOutput: (chunk, stream) => {
        out.write(chunk);
        if (stream === 'stderr') lastErr = chunk.trim().split('\n').pop() ?? lastErr;
        log.debug({ stream, output: chunk.trimEnd() }, `${role} output`);
      },
    });
    if (result.code !== 0) {
      const why = lastErr ? `: ${lastErr}` : '';
      throw new LaunchError(`${role} script ${script} exited ${result.code ?? `on signal ${result.signal}`}${why} (log: ${file})`);
    }
  } finally {
    await new Promise<void>((resolve) => (out.destroyed ? resolve() : out.end(() => resolve())));
  }
  if (logError) throw new LaunchError(`cannot write the build log ${file}: ${(logError as Error).message}`);
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
