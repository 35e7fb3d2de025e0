// Launches one node: create the server, wait for ACTIVE through the shared poll, wait for SSH,
// register with the target, mark ready. The node row exists before the create call (write-ahead).
// A failed attempt deletes its server before the next; after the last, the node goes to deleting.
import { AuthError, BadRequestError, LaunchError, NetworkConfigError, NotInStoreError, QuotaExceededError, SshKeyError, TargetAuthError, TargetError, TimeoutError, errorCode } from './errors.js';
import { RegisterTimeoutError, type Target, type TargetNode } from './targets/target.js';
import { serverMetadata, type NodeRecord } from './model.js';
import { nodeLogger, type Logger } from './log.js';
import { waitForSsh } from './ssh-check.js';
import type { PoolContext, ProviderRuntime } from './context.js';
import type { ProviderImageConfig } from './config.js';
import { currentImage } from './builder/retention.js';

/** Tries of the register step within one attempt, with capped exponential backoff between them. */
const REGISTER_TRIES = 5;
const REGISTER_BACKOFF_MS = 2000;
const REGISTER_BACKOFF_MAX_MS = 30_000;

/** Errors that another attempt cannot fix. */
function isFinal(err: unknown): boolean {
  return (
    err instanceof TargetAuthError ||
    (err instanceof TargetError && !err.retryable) ||
    err instanceof AuthError ||
    err instanceof BadRequestError ||
    err instanceof SshKeyError ||
    err instanceof NetworkConfigError
  );
}

export class Launcher {
  constructor(private readonly ctx: PoolContext) {}

  /**
   * Runs the launch to its end (ready, or deleting). On `shutdown` it stops between steps and
   * leaves the row building. One deadline, `launch-timeout` from the row's creation (so a launch
   * resumed after a restart keeps its original budget), covers every attempt and step.
   */
  async launch(node: NodeRecord, shutdown: AbortSignal): Promise<void> {
    const rt = this.ctx.provider(node.provider);
    const deadline = new AbortController();
    const budget = (rt?.cfg['launch-timeout'] ?? 0) - (this.ctx.clock.now() - node.created);
    const timer = new AbortController();
    if (rt) {
      this.ctx.clock.sleep(Math.max(0, budget), timer.signal).then(
        () => deadline.abort(new TimeoutError(`launch-timeout: not ready ${rt.cfg['launch-timeout']} ms after the node was created`)),
        () => undefined,
      );
    }
    try {
      await this.run(node, shutdown, deadline.signal);
    } finally {
      timer.abort();
    }
  }

  private async run(node: NodeRecord, shutdown: AbortSignal, deadline: AbortSignal): Promise<void> {
    const signal = AbortSignal.any([shutdown, deadline]);
    const { ctx } = this;
    const log = nodeLogger(ctx.log, node);
    const rt = ctx.provider(node.provider);
    const image = rt?.cfg.images.find((i) => i.name === node.image);
    if (!rt || !image) {
      await this.giveUp(node, log, `provider ${node.provider} or image ${node.image} is no longer configured`);
      return;
    }
    const release = await rt.launchSlots.acquire(signal).catch(() => null);
    if (!release) {
      if (!shutdown.aborted) await this.recordFailure(node, errorCode(deadline.reason), deadline.reason, log);
      if (!shutdown.aborted) await this.giveUp(await this.current(node), log, (deadline.reason as Error).message);
      return;
    }
    const started = ctx.clock.now();
    try {
      const attempts = Math.max(1, rt.cfg['launch-retries']);
      let current = node;
      for (;;) {
        if (shutdown.aborted) return;
        const fresh = await ctx.store.getNode(node.id);
        if (!fresh || fresh.state !== 'building') return;
        current = await ctx.store.updateNode(node.id, { launchAttempts: fresh.launchAttempts + 1 });
        try {
          await this.attempt(current, rt, image, log, signal);
          ctx.metrics.launchEnded(current, 'ready');
          ctx.launchEnded(node, 'ready');
          log.info({ attempt: current.launchAttempts, ms: ctx.clock.now() - started }, 'node building -> ready');
          return;
        } catch (caught) {
          let err = caught;
          if (shutdown.aborted) {
            log.info('launch interrupted by shutdown; the row stays building and resumes on restart');
            return;
          }
          // The launch-timeout fired: whatever step was running, the launch is over.
          if (deadline.aborted) err = deadline.reason;
          if (err instanceof NotInStoreError) return;
          const code = errorCode(err);
          ctx.metrics.launchEnded(current, code);
          await this.recordFailure(node, code, err, log);
          if (err instanceof QuotaExceededError) {
            // Not a launch failure: the cloud is full. Shrink the estimate and let the planner retry later.
            const held = (await ctx.store.listNodes({ provider: node.provider })).length - 1;
            rt.quota.shrinkTo(Math.max(0, held));
            await this.giveUp(await this.current(node), log, `over quota: ${(err as Error).message}`);
            return;
          }
          log.warn({ err, attempt: current.launchAttempts, of: attempts, reason: code }, 'launch attempt failed');
          const latest = await this.current(node);
          if (!latest || latest.state !== 'building') return;
          if (latest.launchAttempts >= attempts || isFinal(err) || deadline.aborted) {
            await this.giveUp(latest, log, `launch failed after ${latest.launchAttempts} attempt(s): ${(err as Error).message}`);
            ctx.launchEnded(node, 'failed');
            return;
          }
          try {
            await this.discardServer(latest, rt, log, signal);
          } catch (discardErr) {
            if (shutdown.aborted) return;
            // The row stays deleting with its server id: the deleter finishes the job.
            await this.giveUp(await this.current(node), log, `launch failed; its server could not be discarded: ${(discardErr as Error).message}`);
            ctx.launchEnded(node, 'failed');
            return;
          }
        }
      }
    } finally {
      release();
    }
  }

  private async attempt(node: NodeRecord, rt: ProviderRuntime, image: ProviderImageConfig, log: Logger, signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    const p = rt.cfg;
    let serverId = node.serverId;
    if (!serverId) {
      const [boot, flavor] = await Promise.all([this.bootImage(node, rt, image), rt.api.findFlavor(image['min-ram'], image['name-filter'])]);
      signal.throwIfAborted();
      await ctx.store.updateNode(node.id, { imageId: boot.id, imageVersion: boot.version });
      const azs = p['availability-zones'];
      const server = await rt.api.createServer({
        name: node.hostname,
        imageId: boot.id,
        flavorId: flavor.id,
        metadata: { ...image.meta, ...serverMetadata(ctx.deploymentId, node) },
        az: azs.length ? azs[node.id % azs.length] : undefined,
        keyName: p.keypair,
        networks: p.networks,
        configDrive: p['config-drive'],
      });
      serverId = server.id;
      // Recorded even during shutdown: a created server must always have its row.
      await ctx.store.updateNode(node.id, { serverId }).catch(async (err) => {
        if (err instanceof NotInStoreError) await rt.api.deleteServer(server.id);
        throw err;
      });
      log.info({ server: serverId }, 'server created');
    }
    // boot-timeout covers ACTIVE and SSH together, from this attempt's start.
    const bootStart = ctx.clock.now();
    const active = await rt.api.waitForActive(serverId, p['boot-timeout'], signal);
    // host-key-checking: false skips the SSH wait; the node keeps whatever address it has (maybe none).
    const sshCheck = image['host-key-checking'];
    if (sshCheck && !active.ip) {
      // Nova adds no address to an ACTIVE server later: this attempt is over (another may do better).
      const seen = (active.addresses ?? []).map((a) => `${a.addr} (${a.type}, v${a.version})`).join(', ') || 'none';
      throw new LaunchError(`server ${serverId} is ACTIVE but has no usable address for SSH (addresses: ${seen}); check the provider's networks`);
    }
    await ctx.store.updateNode(node.id, { ip: active.ip, az: active.az });
    if (sshCheck && active.ip) {
      await waitForSsh(
        { host: active.ip, port: p['ssh-port'], username: image.username, privateKey: await ctx.readKey(image['private-key']) },
        { timeoutMs: Math.max(1, p['boot-timeout'] - (ctx.clock.now() - bootStart)), clock: ctx.clock, signal, keyName: image['private-key'] },
      );
    }
    signal.throwIfAborted();
    const label = ctx.config().labels.find((l) => l.name === node.label);
    const target = ctx.target(node.target);
    let manager: string | null = null;
    if (target) {
      const targetNode = {
        name: node.hostname,
        host: active.ip ?? node.hostname,
        port: p['ssh-port'],
        description: `nodepool node ${node.id} (${node.provider}, ${node.label})`,
        labels: [label?.name ?? node.label],
      };
      manager = await this.register(node, target, targetNode, log, signal);
      log.info({ target: target.name, manager }, 'registered with target');
    }
    await ctx.store.transitionNode(node.id, 'ready', { from: ['building'], reason: 'launched', patch: { manager } });
  }

  /**
   * Registers the node, retrying on this VM: a master or manager that is briefly away is no
   * reason to delete and re-boot the server. Only a final error or exhausted tries fail the
   * attempt. Returns the manager that took the node (Gearman), if any.
   */
  private async register(node: NodeRecord, target: Target, targetNode: TargetNode, log: Logger, signal: AbortSignal): Promise<string | null> {
    for (let tryNo = 1; ; tryNo++) {
      try {
        const { manager } = await target.register(targetNode);
        this.ctx.metrics.registration(target.name, 'ok');
        return manager ?? null;
      } catch (err) {
        this.ctx.metrics.registration(target.name, errorCode(err));
        if (err instanceof RegisterTimeoutError) {
          // The late reply may still give the node to a manager: revoke it whatever happens next.
          await this.ctx.store.addPendingUnregister({ target: target.name, hostname: node.hostname, manager: null, nodeId: node.id });
        }
        if (!(err instanceof TargetError) || !err.retryable || err instanceof TargetAuthError) throw err;
        if (tryNo >= REGISTER_TRIES) {
          // Nobody can take the node: another server would not help either.
          if (target.available?.() === false) throw new TargetError(`${(err as Error).message}; no worker can take nodes of target ${target.name}: giving up`, false, { cause: err });
          throw err;
        }
        const wait = Math.min(REGISTER_BACKOFF_MAX_MS, REGISTER_BACKOFF_MS * 2 ** (tryNo - 1));
        log.warn({ err, target: target.name, try: tryNo, of: REGISTER_TRIES, retryInMs: wait }, 'registration failed; retrying on the same server');
        await this.ctx.clock.sleep(wait, signal);
      }
    }
  }

  /**
   * What the server boots: the provider image's current baked image (the newest ready build) when
   * it has a setup script, else its base-image. A baked image with no ready build yet cannot
   * launch (the planner does not ask for it; a launch resumed after a restart may).
   */
  private async bootImage(node: NodeRecord, rt: ProviderRuntime, image: ProviderImageConfig): Promise<{ id: string; version: string | null }> {
    if (!image.setup) return { id: (await rt.api.findImage(image['base-image'])).id, version: null };
    const current = currentImage(await this.ctx.store.listImages({ provider: node.provider, image: node.image, states: ['ready'] }));
    if (!current?.externalId) throw new LaunchError(`image ${node.image} on ${node.provider} has no ready build yet`);
    return { id: current.externalId, version: current.version };
  }

  /** Deletes a failed attempt's server and waits until it is gone, so the retry can reuse the name. */
  private async discardServer(node: NodeRecord, rt: ProviderRuntime, log: Logger, signal: AbortSignal): Promise<void> {
    if (!node.serverId) return;
    await rt.api.deleteServer(node.serverId);
    await rt.api.waitForGone(node.serverId, rt.cfg['boot-timeout'], signal);
    await this.ctx.store.updateNode(node.id, { serverId: null, ip: null });
    log.info({ server: node.serverId }, 'failed attempt server deleted');
  }

  /** Kept after the row is gone: `nodepool failures` and `nodepool list` show why a label is short. */
  private async recordFailure(node: NodeRecord, code: string, err: unknown, log: Logger): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    await this.ctx.store
      .recordLaunchFailure({ provider: node.provider, label: node.label, nodeId: node.id, hostname: node.hostname, code, message })
      .catch((recordErr) => log.warn({ err: recordErr }, 'could not record the launch failure'));
  }

  private async current(node: NodeRecord): Promise<NodeRecord | undefined> {
    return this.ctx.store.getNode(node.id);
  }

  private async giveUp(node: NodeRecord | undefined, log: Logger, comment: string): Promise<void> {
    if (!node || node.state !== 'building') return;
    log.warn({ comment }, 'node building -> deleting');
    await this.ctx.store
      .transitionNode(node.id, 'deleting', { from: ['building'], reason: comment, patch: { comment } })
      .then(() => this.ctx.requestDelete(node.id))
      .catch((err) => log.debug({ err }, 'node left building before giving up'));
  }
}
