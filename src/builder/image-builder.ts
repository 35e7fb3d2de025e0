// The daemon's image builder: decides when each provider image is baked (schedule.ts), runs at
// most one bake per provider image at a time in the background (bake.ts; never awaited by the
// planner, and one provider's bakes never wait for another's), applies retention (retention.ts),
// takes operator requests (image-update), deletes images an operator deleted (image-delete), and
// after a crash removes what an interrupted bake left. Leaked snapshots and bake servers are
// judged by image-reconcile.ts on every cleanup pass.
import type { Cron } from 'croner';
import type { PoolContext, ProviderRuntime } from '../context.js';
import { errorCode } from '../errors.js';
import type { ImageRecord } from '../model.js';
import type { CloudServer } from '../../providers/provider.js';
import { bake, startBuild, type BakeDeps } from './bake.js';
import { reconcileImages } from './image-reconcile.js';
import { retention } from './retention.js';
import { bakeDue, bakeHistory, parseSchedule } from './schedule.js';
import { Coalescer } from '../coalescer.js';

export interface ImageBuilderDeps {
  ctx: PoolContext;
  runtimes(): ProviderRuntime[];
  /** No bakes (and no recovery) on a provider whose cloud has not been reconciled yet. */
  reconciled(provider: string): boolean;
  /** The directory of setup scripts, copied to every template server. */
  imagesDir(): string;
  /** Per-build log files. */
  logDir: string;
}

interface RunningBake {
  rowId: number;
  ctl: AbortController;
  task: Promise<void>;
}

const key = (provider: string, image: string) => `${provider}\u0000${image}`;

export class ImageBuilder {
  private readonly running = new Map<string, RunningBake>();
  /** Providers whose interrupted bakes (from before this process) have been cleaned up. */
  private readonly recovered = new Set<string>();
  /** Per provider: `image:ID` / `server:ID` judged leaked on the previous cleanup pass. */
  private readonly suspects = new Map<string, Set<string>>();
  private schedule: { pattern: string; cron: Cron } | null = null;
  private stopping = false;
  private readonly passes: Coalescer;

  constructor(private readonly deps: ImageBuilderDeps) {
    this.passes = new Coalescer(
      () => this.pass(),
      (err) => {
        deps.ctx.log.error({ err }, 'image builder pass failed');
        deps.ctx.metrics.errors.inc({ component: 'builder', reason: errorCode(err) });
      },
    );
  }

  /** Asks for a pass soon (coalesced): after a bake ends, a CLI request, a reload. */
  request(): void {
    if (!this.stopping) this.passes.request();
  }

  /** Resolves once no pass is running or pending (tests). */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  /** A bake is running for this image row: it owns the servers and snapshot carrying its id. */
  baking(rowId: number): boolean {
    return [...this.running.values()].some((b) => b.rowId === rowId);
  }

  /** The bakes running on this provider: a reload closes its replaced API client only after they end. */
  tasksOf(provider: string): Promise<void>[] {
    return [...this.running.entries()].filter(([k]) => k.split('\u0000')[0] === provider).map(([, b]) => b.task);
  }

  /** Bakes in flight, for /health and tests. */
  inFlight(): { provider: string; image: string; rowId: number }[] {
    return [...this.running.entries()].map(([k, b]) => {
      const [provider, image] = k.split('\u0000');
      return { provider, image, rowId: b.rowId };
    });
  }

  /**
   * One pass over every reconciled provider: recover it once, delete images marked deleting,
   * apply retention, abort bakes an operator deleted, then start the bakes that are due.
   */
  async pass(): Promise<void> {
    const { ctx } = this.deps;
    const paused = new Set((await ctx.store.listImagePauses()).map((p) => p.image));
    const requests = await ctx.store.listImageRequests({ open: true });
    const cron = this.cron();
    for (const rt of this.deps.runtimes()) {
      const name = rt.cfg.name;
      if (this.stopping || !this.deps.reconciled(name)) continue;
      if (!this.recovered.has(name) && !(await this.recover(rt))) continue;
      const rows = await ctx.store.listImages({ provider: name });
      await this.removeDeleted(rt, rows);
      for (const image of rt.cfg.images) {
        if (!image.setup) continue;
        const mine = rows.filter((r) => r.image === image.name);
        await this.retain(rt, mine);
        const asked = requests.filter((r) => r.provider === name && r.image === image.name);
        const current = this.running.get(key(name, image.name));
        if (current) {
          for (const r of asked) await ctx.store.takeImageRequest(r.id, current.rowId);
          continue;
        }
        const decision = bakeDue(bakeHistory(mine, { paused: paused.has(image.name), running: false }), cron, ctx.clock.now());
        // An operator's image-update runs now, paused or backing off or not.
        if (!asked.length && !decision.due) continue;
        const reason = asked.length ? 'requested' : decision.due ? decision.reason : '';
        const row = await this.start(rt, image.name, reason);
        for (const r of asked) await ctx.store.takeImageRequest(r.id, row.id);
      }
    }
    // Requests nobody can serve (provider or image gone from the config) are answered, not kept.
    for (const r of requests) {
      const rt = this.deps.runtimes().find((p) => p.cfg.name === r.provider);
      if (!rt?.cfg.images.some((i) => i.name === r.image && i.setup)) {
        ctx.log.warn({ provider: r.provider, image: r.image }, 'image-update request for an image this daemon does not bake; dropped');
        await ctx.store.takeImageRequest(r.id, 0);
      }
    }
  }

  /** The image row a node of this provider image boots from now: the newest ready build (retention's current). */
  static current(rows: readonly ImageRecord[]): ImageRecord | undefined {
    const id = retention(rows).current;
    return rows.find((r) => r.id === id);
  }

  private cron(): Cron {
    const pattern = this.deps.ctx.config().cron['image-update'];
    if (this.schedule?.pattern !== pattern) this.schedule = { pattern, cron: parseSchedule(pattern) };
    return this.schedule.cron;
  }

  private async start(rt: ProviderRuntime, imageName: string, reason: string): Promise<ImageRecord> {
    const { ctx } = this.deps;
    const deps: BakeDeps = {
      store: ctx.store,
      clock: ctx.clock,
      log: ctx.log,
      deploymentId: ctx.deploymentId,
      runtime: rt,
      readKey: (p) => ctx.readKey(p),
      imagesDir: this.deps.imagesDir(),
      logDir: this.deps.logDir,
    };
    const row = await startBuild(deps, imageName);
    ctx.log.info({ build: row.id, provider: rt.cfg.name, image: imageName, why: reason }, `build ${row.id}: bake started (${reason})`);
    const ctl = new AbortController();
    const k = key(rt.cfg.name, imageName);
    const task = bake(deps, row, ctl.signal)
      .then((done) => {
        const level = done.state === 'ready' ? 'info' : 'warn';
        // A failed validation is a failed bake: counted, and its reason on the row.
        const result = done.state === 'ready' ? 'ready' : 'failed';
        ctx.metrics.imageBuilds.inc({ provider: done.provider, image: done.image, result });
        ctx.metrics.statsd?.imageUpdate(done.provider, done.image, result, ctx.clock.now() - done.created);
        ctx.log[level]({ build: done.id, provider: done.provider, image: done.image, state: done.state, reason: done.reason }, `build ${done.id}: ${done.state}`);
      })
      .catch((err) => ctx.log.error({ err, build: row.id, provider: rt.cfg.name, image: imageName }, 'bake task failed'))
      .finally(() => {
        this.running.delete(k);
        // A new current image changes what launches boot; retention runs on the next pass.
        ctx.requestPlan('image build ended');
        this.request();
      });
    this.running.set(k, { rowId: row.id, ctl, task });
    return row;
  }

  /**
   * A provider's first pass in this process: a build row still `building` belongs to a bake that
   * died with the previous process. Its template or test server and its snapshot are deleted
   * and the row failed with the step it was at. False if the cloud did not answer (tried again).
   */
  private async recover(rt: ProviderRuntime): Promise<boolean> {
    const { ctx } = this.deps;
    const log = ctx.log.child({ provider: rt.cfg.name });
    try {
      for (const row of await ctx.store.listImages({ provider: rt.cfg.name, states: ['building'] })) {
        if (this.baking(row.id)) continue;
        if (row.serverId) {
          await rt.api.deleteServer(row.serverId);
          log.info({ build: row.id, image: row.image, server: row.serverId }, 'deleted the server of a bake interrupted by a restart');
        }
        if (row.externalId) await rt.api.deleteImage(row.externalId);
        const reason = `${row.step ?? 'boot'}: interrupted: the daemon stopped during this step`;
        await ctx.store.transitionImage(row.id, 'failed', { reason, patch: { reason, serverId: null } });
        log.warn({ build: row.id, image: row.image, reason }, `build ${row.id}: ${row.step ?? 'boot'} -> failed`);
      }
      this.recovered.add(rt.cfg.name);
      return true;
    } catch (err) {
      log.warn({ err }, 'could not clean up interrupted bakes yet; retrying on the next pass');
      return false;
    }
  }

  /** Keeps the current and the previous ready image and recent failures; deletes the rest. */
  private async retain(rt: ProviderRuntime, rows: readonly ImageRecord[]): Promise<void> {
    const { remove } = retention(rows);
    for (const id of remove) {
      const row = rows.find((r) => r.id === id)!;
      await this.deleteImage(rt, row, row.state === 'failed' ? 'retention: an older failed build' : 'retention: older than the previous image');
    }
  }

  /** Images an operator deleted (image-delete), or a delete a crash interrupted. */
  private async removeDeleted(rt: ProviderRuntime, rows: readonly ImageRecord[]): Promise<void> {
    for (const row of rows) {
      if (row.state !== 'deleting') continue;
      const bakeOfRow = [...this.running.values()].find((b) => b.rowId === row.id);
      // A bake whose row was deleted stops, cleans up after itself, and leaves the row to us.
      if (bakeOfRow) bakeOfRow.ctl.abort(new Error('image deleted by an operator'));
      else await this.deleteImage(rt, row, 'deleted');
    }
  }

  private async deleteImage(rt: ProviderRuntime, row: ImageRecord, why: string): Promise<void> {
    const { ctx } = this.deps;
    const log = ctx.log.child({ build: row.id, provider: row.provider, image: row.image });
    try {
      if (row.state !== 'deleting') await ctx.store.transitionImage(row.id, 'deleting', { reason: why });
      if (row.externalId) await rt.api.deleteImage(row.externalId);
      await ctx.store.removeImage(row.id);
      log.info({ externalId: row.externalId, why }, `image ${row.id} (${row.version}) deleted`);
    } catch (err) {
      log.warn({ err, why }, `could not delete image ${row.id} yet; retrying on the next pass`);
    }
  }

  /**
   * On every cleanup pass (cleanup.ts, with the server list it just read): snapshots and bake
   * servers of ours that no row or running bake owns, and image artifacts (the driver's
   * listImageArtifacts: EC2's snapshots) that no image uses either, seen on two consecutive
   * passes, are deleted. Lists images only where this provider bakes or has image rows.
   */
  async deleteLeaks(rt: ProviderRuntime, servers: readonly CloudServer[]): Promise<void> {
    const { ctx } = this.deps;
    const name = rt.cfg.name;
    const rows = await ctx.store.listImages({ provider: name });
    if (!rows.length && !rt.cfg.images.some((i) => i.setup) && !this.suspects.get(name)?.size) return;
    const artifacts = await rt.api.listImageArtifacts();
    const images = await rt.api.listImages();
    const baking = new Set([...this.running.values()].map((b) => b.rowId));
    const actions = reconcileImages({ provider: name, deploymentId: ctx.deploymentId, rows, images, servers, artifacts, baking, suspects: this.suspects.get(name) ?? new Set() });
    this.suspects.set(name, actions.suspects);
    const log = ctx.log.child({ provider: name });
    // Each delete on its own: one the cloud refuses (an AMI with deregistration protection, a
    // snapshot in use) must not keep the leaked servers and snapshots after it alive.
    const each = async (what: Record<string, string>, kind: string, del: () => Promise<void>) => {
      try {
        await del();
        ctx.metrics.leaks.inc({ provider: name, kind });
      } catch (err) {
        log.warn({ err, ...what }, `could not delete leaked ${kind}; tried again on a later pass`);
      }
    };
    for (const image of actions.leakedImages) {
      log.warn({ externalId: image.id, name: image.name }, 'deleting leaked image');
      await each({ externalId: image.id }, 'image', () => rt.api.deleteImage(image.id));
    }
    for (const server of actions.leakedServers) {
      log.warn({ server: server.id, name: server.name }, 'deleting leaked bake server');
      await each({ server: server.id }, 'server', () => rt.api.deleteServer(server.id));
    }
    for (const artifact of actions.leakedArtifacts) {
      log.warn({ artifact: artifact.id, kind: artifact.kind }, `deleting leaked image ${artifact.kind}`);
      await each({ artifact: artifact.id }, artifact.kind, () => rt.api.deleteImageArtifact(artifact.id));
    }
  }

  /**
   * Stops scheduling and aborts running bakes; each deletes what it made (bounded by `graceMs`,
   * after which its row stays building and the next start's recovery finishes the cleanup).
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    await this.passes.close();
    for (const b of this.running.values()) b.ctl.abort(new Error('daemon stopping'));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled([...this.running.values()].map((b) => b.task)), grace]);
    clearTimeout(timer);
  }
}
