// Wires the components, starts and stops them. The planner runs whenever state changes
// (coalesced: one run at a time, re-run if asked meanwhile) and on the demand timer.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { loadConfig, type Config, type ProviderConfig, type TargetConfig } from './config.js';
import { systemClock, type Clock } from './clock.js';
import { createLogger, nodeLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';
import type { NodeRecord } from './model.js';
import { Coalescer } from './coalescer.js';
import { Launcher } from './launcher.js';
import { LaunchBackoff } from './launch-backoff.js';
import { Deleter } from './deleter.js';
import { Cleanup } from './cleanup.js';
import { CloudHealth } from './cloud-health.js';
import { imageFlavor, ProviderRuntimes } from './provider-runtimes.js';
import { planReload } from './reload.js';
import { plan, type PlannerFlavor, type PlannerProvider } from './pool/planner.js';
import { demandByLabel } from './pool/demand.js';
import { surplusNodes } from './pool/surplus.js';
import type { PoolContext } from './context.js';
import { createTarget } from './targets/registry.js';
import { HoldOffline } from './hold-offline.js';
import { UnregisterRetry } from './unregister-retry.js';
import type { Target } from './targets/target.js';
import { GearmanDemandSource } from './gearman/demand-source.js';
import { EventListener } from './events/listener.js';
import { EventCounters } from './events/counters.js';
import { BuildEventHandler } from './build-events.js';
import { TargetReconcilePass } from './target-reconcile-pass.js';
import { ImageBuilder } from './builder/image-builder.js';
import { publisherTargets } from './target-reconcile.js';
import { ManagedProvider } from '../providers/managed-provider.js';
import { createDriver } from '../providers/registry.js';
import { errorCode } from './errors.js';
import { resolveDeploymentId } from './deployment-id.js';
import type { LiveFigures } from './views.js';
import { createStatsd, statsdChanged } from './statsd.js';

export interface DaemonOptions {
  configPath: string;
  dbPath: string;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  log?: Logger;
  /** How often the store is checked for changes made by the CLI (default 250 ms). */
  storeWatchMs?: number;
  /** An in-use node younger than this is not judged idle by the target reconcile pass (default 30 s). */
  reconcileGraceMs?: number;
}

interface LaunchTask {
  provider: string;
  /** LaunchBackoff ticket taken when the launch started. */
  backoffTicket: number;
  ctl: AbortController;
  task: Promise<void>;
}

export class Daemon {
  readonly metrics = new Metrics();
  readonly log: Logger;
  readonly clock: Clock;
  private cfg: Config;
  private readonly providers: ProviderRuntimes;
  private readonly targets = new Map<string, Target>();
  private readonly launches = new Map<number, LaunchTask>();
  private readonly keys = new Map<string, Promise<Buffer>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly launcher: Launcher;
  private readonly deleter: Deleter;
  private readonly holdOffline: HoldOffline;
  private readonly unregisterRetry: UnregisterRetry;
  private readonly cleanupPass: Cleanup;
  private readonly ctx: PoolContext;
  private demandSource: GearmanDemandSource | null = null;
  private events: EventListener | null = null;
  /** Outlive the listener: a reload that replaces it keeps the counts. */
  private readonly eventCounters = new EventCounters(this.metrics);
  private readonly cloudHealth: CloudHealth;
  private readonly buildEvents: BuildEventHandler;
  /** Repairs build events ZeroMQ lost, from each master's own view of our nodes. */
  readonly targetReconcile: TargetReconcilePass;
  /** Bakes, validates, retains and cleans up images (builder/image-builder.ts). */
  readonly builder: ImageBuilder;
  private demand: Record<string, number> = {};
  private readonly backoff = new LaunchBackoff();
  private starvedSince: Record<string, number> = {};
  private surplusSince: Record<string, number> = {};
  private readonly planner = new Coalescer(
    () => this.planOnce(),
    (err) => {
      this.log.error({ err }, 'planner run failed');
      this.metrics.errors.inc({ component: 'planner', reason: errorCode(err) });
    },
  );
  private lastMarker = -1;
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | null = null;

  private constructor(
    private readonly opts: DaemonOptions,
    readonly store: Store,
    cfg: Config,
    /** Resolved once at start (deployment-id.ts); a reload does not change it. */
    readonly deploymentId: string,
  ) {
    this.cfg = cfg;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? createLogger();
    this.ctx = {
      deploymentId,
      store,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      config: () => this.cfg,
      provider: (name) => this.providers.get(name),
      target: (name) => this.targets.get(name),
      readKey: (path) => this.readKey(path),
      requestPlan: (reason) => this.requestPlan(reason),
      requestDelete: (id) => this.requestDelete(id),
      launchEnded: (node, outcome) => {
        if (outcome === 'ready') return this.backoff.succeeded(node.provider, node.label);
        const waitMs = this.backoff.failed(node.provider, node.label, this.clock.now(), this.launches.get(node.id)?.backoffTicket);
        nodeLogger(this.log, node).warn({ waitMs }, 'launches of this label on this provider pause after a failed launch');
      },
    };
    this.providers = new ProviderRuntimes({
      makeApi: (p) => this.makeApi(p),
      // Launches and deletes started before a reload hold the replaced client until they end.
      drained: (name) =>
        Promise.allSettled([...[...this.launches.values()].filter((l) => l.provider === name).map((l) => l.task), this.deleter.drain(), ...this.builder.tasksOf(name)]),
      onCloseError: (name, err) => this.log.warn({ err, provider: name }, 'closing a replaced provider client failed'),
    });
    this.launcher = new Launcher(this.ctx);
    this.deleter = new Deleter(this.ctx);
    this.holdOffline = new HoldOffline(this.ctx);
    this.unregisterRetry = new UnregisterRetry(this.ctx);
    this.targetReconcile = new TargetReconcilePass(this.ctx, { graceMs: opts.reconcileGraceMs });
    this.buildEvents = new BuildEventHandler(this.ctx, {
      onBuildGap: (job, last, seen) => {
        this.log.info({ job, last, seen }, 'build numbers skipped: events were lost; reconciling with the masters now');
        this.targetReconcile.request('build number gap');
      },
    });
    // Pool gauges are read from the store at scrape time; statsd (if configured) gets the same snapshot.
    this.metrics.bind(this);
    this.metrics.statsd = createStatsd(cfg, opts.env ?? process.env, this.log, () => this.metrics.refresh());
    this.cloudHealth = new CloudHealth({ clock: this.clock, log: this.log, onState: (provider, up) => this.metrics.cloudUp.set({ provider }, up ? 1 : 0) });
    this.builder = new ImageBuilder({
      ctx: this.ctx,
      runtimes: () => this.providers.values(),
      reconciled: (name) => this.cleanupPass.reconciled(name),
      imagesDir: () => resolve(dirname(opts.configPath), this.cfg['scripts-dir']),
      logDir: join(dirname(resolve(opts.dbPath)), 'builds'),
    });
    this.cleanupPass = new Cleanup({
      imageLeaks: (rt, servers) => this.builder.deleteLeaks(rt, servers),
      cloudHealth: this.cloudHealth,
      ctx: this.ctx,
      runtime: (name) => this.providers.get(name),
      providerNames: () => this.providers.names(),
      launching: (id) => this.launches.has(id),
      deleting: (id) => this.deleter.isDeleting(id),
      resumeLaunch: (node) => this.startLaunch(node),
      dispatchDeletes: () => this.dispatchDeletes(),
    });
  }

  /** Loads config, opens the store, reconciles with every cloud, then starts all loops. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const cfg = loadConfig(opts.configPath, opts.env ?? process.env);
    const store = SqliteStore.open(opts.dbPath, { clock: opts.clock });
    const deploymentId = await resolveDeploymentId(store, cfg['deployment-id']).catch(async (err: unknown) => {
      await store.close();
      throw err;
    });
    const daemon = new Daemon(opts, store, cfg, deploymentId);
    try {
      await daemon.startup();
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  config(): Config {
    return this.cfg;
  }

  private async startup(): Promise<void> {
    this.providers.apply(this.cfg.providers);
    for (const t of this.cfg.targets) this.targets.set(t.name, this.makeTarget(t));
    await this.cleanupPass.startup(this.providers.names());
    this.lastMarker = await this.store.changeMarker();
    this.startGearmanAndEvents();
    this.every(this.opts.storeWatchMs ?? 250, () => this.watchStore());
    // Without Gearman this timer still runs the planner: a launch backoff may have expired.
    this.every(this.cfg['demand-interval'], async () => (this.demandSource ? this.refreshDemand() : this.requestPlan('timer')));
    this.every(this.cfg['cleanup-interval'], () => this.cleanup());
    this.every(this.cfg['reconcile-interval'], async () => void (await this.targetReconcile.pass()));
    // Bakes run in the background; a pass only decides and starts them. Once a minute suits a cron schedule.
    this.every(60_000, async () => this.builder.request());
    this.builder.request();
    // Events sent while the daemon was down are lost: ask the masters once now.
    this.targetReconcile.request('start');
    this.started = true;
    this.requestPlan('start');
    this.log.info({ deploymentId: this.deploymentId, providers: this.cfg.providers.length, labels: this.cfg.labels.length }, 'daemon started');
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.stopping) return;
      running = true;
      fn()
        .catch((err) => this.log.error({ err }, 'periodic task failed'))
        .finally(() => (running = false));
    }, ms);
    // Not unref'd: these timers are what keeps a daemon process alive between events.
    this.timers.push(timer);
  }

  private makeApi(p: ProviderConfig): ManagedProvider {
    // The driver and ManagedProvider each add `provider` to their logger themselves.
    const driver = createDriver(p, { clock: this.clock, log: this.log });
    return new ManagedProvider(driver, {
      clock: this.clock,
      log: this.log,
      rateSeconds: p.rate,
      burst: p['rate-burst'],
      pollIntervalMs: p['poll-interval'],
      onApiCall: (op, outcome, ms) => this.metrics.apiCall(p.name, op, outcome, ms),
      onRateLimitWait: (ms) => this.metrics.rateLimited(p.name, ms),
    });
  }

  private makeTarget(t: TargetConfig): Target {
    // Targets name themselves in their log lines.
    return createTarget(t, { gearmanServers: this.cfg['gearman-servers'], log: this.log, clock: this.clock });
  }

  private startGearmanAndEvents(): void {
    if (this.cfg['gearman-servers'].length) {
      this.demandSource = new GearmanDemandSource({
        servers: this.cfg['gearman-servers'],
        // The daemon's timer polls at demand-interval; a server that was down is retried as often.
        intervalMs: this.cfg['demand-interval'],
        clock: this.clock,
        log: this.log,
      });
    }
    if (this.cfg['zmq-publishers'].length) {
      this.events = new EventListener({
        urls: this.cfg['zmq-publishers'],
        log: this.log.child({ component: 'events' }),
        counters: this.eventCounters,
        // The frames sent while it was away are lost: ask its master(s) now.
        onReconnect: (url) => this.targetReconcile.request('zmq publisher reconnected', publisherTargets(url, this.cfg.targets)),
        onEvent: (ev) => {
          // A build started or ended: demand changed too.
          void this.refreshDemand();
          // The listener logs and counts a failure here; it never stops the loop.
          return this.buildEvents.handle(ev);
        },
      });
    }
  }

  /** Gearman demand per label; a server that is down contributes nothing. */
  private async refreshDemand(): Promise<void> {
    const source = this.demandSource;
    if (!source || this.stopping) return;
    const rows = await source.refresh();
    const { demand, unassigned } = demandByLabel(rows, this.cfg.labels.map((l) => l.name));
    for (const u of unassigned) this.log.debug({ job: u.job, waiting: u.waiting }, 'demand for a job with no known label');
    this.metrics.demandUnassigned.set(unassigned.reduce((sum, u) => sum + u.waiting, 0));
    this.metrics.gearmanUp.reset();
    for (const g of source.health()) this.metrics.gearmanPolled(`${g.host}:${g.port}`, g.up);
    this.demand = demand;
    this.requestPlan('demand');
  }

  health(): { gearman: unknown; events: unknown; providers: Record<string, unknown> } {
    const providers: Record<string, unknown> = {};
    for (const rt of this.providers.values()) {
      const name = rt.cfg.name;
      providers[name] = { cloud: this.cloudHealth.status(name), reconciled: this.cleanupPass.reconciled(name), cloudLimit: rt.quota.cloudLimit(), launching: rt.launchSlots.running, queued: rt.launchSlots.queued, api: rt.api.stats() };
    }
    return { gearman: this.demandSource?.health() ?? [], events: this.events ? this.eventCounters.stats() : null, providers };
  }

  /**
   * Read-only snapshot of the live figures the planner works from (views.ts): Gearman demand per
   * label (null without a demand source), and per provider the quota estimate, launches in
   * flight and whether its cloud is reconciled. Never waits on a cloud.
   */
  poolView(): LiveFigures {
    const providers: LiveFigures['providers'] = {};
    for (const rt of this.providers.values()) {
      providers[rt.cfg.name] = { limits: rt.quota.limits(), launching: rt.launchSlots.running, queued: rt.launchSlots.queued, reconciled: this.cleanupPass.reconciled(rt.cfg.name), cloudUp: this.cloudHealth.status(rt.cfg.name).up };
    }
    return { demand: this.demandSource ? { ...this.demand } : null, providers };
  }

  /**
   * A write to the store through this process's own connection (the web API's hold and delete):
   * SQLite's data_version does not change for it, so act now as watchStore() would.
   */
  storeWritten(): void {
    if (this.stopping) return;
    void (async () => {
      await this.dispatchDeletes();
      await this.holdOffline.pass();
      this.requestPlan('store written');
    })().catch((err) => this.log.error({ err }, 'acting on a store write failed'));
  }

  /**
   * /health: `ok` is false, with one reason each, when a cloud is not reconciled yet or its last
   * reconcile pass failed, or when the store does not answer. The rest is health().
   */
  async healthCheck(): Promise<{ ok: boolean; reasons: string[] } & ReturnType<Daemon['health']>> {
    const reasons: string[] = [];
    for (const rt of this.providers.values()) {
      const name = rt.cfg.name;
      const cloud = this.cloudHealth.status(name);
      const why = cloud.lastError ? `: ${cloud.lastError}` : '';
      if (cloud.up === false) reasons.push(`provider ${name}: cloud unreachable since ${new Date(cloud.since).toISOString()}${why}`);
      else if (!this.cleanupPass.reconciled(name)) reasons.push(`provider ${name}: not reconciled yet`);
    }
    try {
      await this.store.changeMarker();
    } catch (err) {
      reasons.push(`store: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { ok: reasons.length === 0, reasons, ...this.health() };
  }

  /** Asks for a planner run; many requests while one runs collapse into one more run. */
  requestPlan(reason: string): void {
    if (this.stopping) return;
    this.log.trace({ reason }, 'plan requested');
    this.planner.request();
  }

  private async planOnce(): Promise<void> {
    const cfg = this.cfg;
    const nodes = await this.store.listNodes();
    const baked = new Set((await this.store.listImages({ states: ['ready'] })).map((i) => `${i.provider}/${i.image}`));
    const now = this.clock.now();
    const result = plan({
      labels: cfg.labels.map((l) => ({
        name: l.name,
        minReady: l['min-ready'],
        // No server is created while no worker can take the node (Gearman target without a worker).
        providers: this.targetAccepting(l.target ?? cfg.targets[0]?.name)
          ? l.providers.map((p) => p.name).filter((p) => this.cleanupPass.reconciled(p) && !this.backoff.blocked(p, l.name, now) && this.imageBootable(p, l.image, baked))
          : [],
      })),
      providers: cfg.providers.map((p) => this.plannerProvider(p)),
      nodes: nodes.map((n) => ({ provider: n.provider, label: n.label, state: n.state })),
      demand: this.demand,
      starvedSince: this.starvedSince,
      now,
    });
    this.starvedSince = result.starvedSince;
    for (const launch of result.launches) {
      const label = cfg.labels.find((l) => l.name === launch.label)!;
      const target = label.target ?? cfg.targets[0]?.name ?? '';
      for (let i = 0; i < launch.count && !this.stopping; i++) {
        // Write-ahead: the row (and its unique server name) is committed before the create call.
        const node = await this.store.createNode({ provider: launch.provider, label: label.name, image: label.image, target });
        nodeLogger(this.log, node).info({ node_hostname: node.hostname }, 'node -> building');
        this.startLaunch(node);
      }
    }
  }

  /** A provider image with a setup script boots only its baked image: none ready yet, no launch (the builder bakes one at once). */
  private imageBootable(provider: string, image: string, baked: ReadonlySet<string>): boolean {
    const cfg = this.providers.get(provider)?.cfg.images.find((i) => i.name === image);
    return !cfg?.setup || baked.has(`${provider}/${image}`);
  }

  private targetAccepting(name: string | undefined): boolean {
    const target = name === undefined ? undefined : this.targets.get(name);
    return target?.available?.() ?? true;
  }

  /** A provider as the planner sees it: limits, and the flavor each of its labels boots (cached, never waits on the cloud). */
  private plannerProvider(p: ProviderConfig): PlannerProvider {
    const rt = this.providers.get(p.name);
    const limits = rt?.quota.limits();
    const flavors: Record<string, PlannerFlavor> = {};
    if (rt) {
      for (const l of this.cfg.labels) {
        if (!l.providers.some((lp) => lp.name === p.name)) continue;
        const f = imageFlavor(rt, l.image);
        if (f) flavors[l.name] = { vcpus: f.vcpus, ramMb: f.ramMb };
      }
    }
    return { name: p.name, maxServers: p['max-servers'], cloudLimit: limits?.instances ?? null, coresLimit: limits?.cores, ramLimitMb: limits?.ramMb, flavors };
  }

  private startLaunch(node: NodeRecord): void {
    if (this.launches.has(node.id) || this.stopping) return;
    const ctl = new AbortController();
    const task = this.launcher
      .launch(node, ctl.signal)
      .catch((err) => nodeLogger(this.log, node).error({ err }, 'launch task failed'))
      .finally(() => {
        this.launches.delete(node.id);
        this.requestPlan('launch ended');
      });
    this.launches.set(node.id, { provider: node.provider, backoffTicket: this.backoff.ticket(node.provider, node.label), ctl, task });
  }

  /** A node in deleting goes to the deleter, after any launch still working on it has stopped. */
  requestDelete(id: number): void {
    if (this.stopping) return;
    const launch = this.launches.get(id);
    if (launch) {
      launch.ctl.abort(new Error('node is being deleted'));
      void launch.task.finally(() => this.requestDelete(id));
      return;
    }
    void this.store.getNode(id).then((node) => {
      if (node?.state === 'deleting' && !this.stopping) void this.deleter.delete(node);
    });
  }

  /** Notices holds and deletes made by the CLI (another process) within a second. */
  private async watchStore(): Promise<void> {
    const marker = await this.store.changeMarker();
    if (marker === this.lastMarker) return;
    this.lastMarker = marker;
    await this.dispatchDeletes();
    await this.holdOffline.pass();
    // image-update, image-delete, image-pause from the CLI.
    this.builder.request();
    this.requestPlan('store changed');
  }

  private async dispatchDeletes(): Promise<void> {
    for (const node of await this.store.listNodes({ states: ['deleting'] })) {
      if (!this.deleter.isDeleting(node.id)) this.requestDelete(node.id);
    }
  }

  /** One cleanup pass (see cleanup.ts), then surplus ready nodes past their grace. */
  async cleanup(): Promise<void> {
    if (this.stopping) return;
    await this.cleanupPass.pass();
    await this.unregisterRetry.pass();
    await this.deleteSurplus();
  }

  private async deleteSurplus(): Promise<void> {
    const nodes = await this.store.listNodes({ states: ['ready'] });
    const result = surplusNodes({
      labels: this.cfg.labels.map((l) => ({ name: l.name, minReady: l['min-ready'] })),
      nodes,
      demand: this.demand,
      surplusSince: this.surplusSince,
      graceMs: this.cfg['surplus-grace'],
      now: this.clock.now(),
    });
    this.surplusSince = result.surplusSince;
    const byId = new Map(nodes.map((n) => [n.id, n]));
    for (const id of result.remove) await this.cleanupPass.toDeleting(byId.get(id)!, 'surplus: ready above min-ready plus demand for longer than surplus-grace');
  }

  private readKey(path: string): Promise<Buffer> {
    let key = this.keys.get(path);
    if (!key) {
      key = readFile(path);
      key.catch(() => this.keys.delete(path));
      this.keys.set(path, key);
    }
    return key;
  }

  /** SIGHUP: a bad config is logged and the old one kept. */
  async reload(): Promise<boolean> {
    let next: Config;
    try {
      // A 0.x file's warnings, as `nodepool daemon` logs them at start (src/cli/daemon-command.ts).
      const onWarning = (line: string) => this.log.warn({ config: line }, 'config key read differently from Nodepool 0.x');
      next = loadConfig(this.opts.configPath, this.opts.env ?? process.env, { onWarning });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'config reload failed; keeping the running config');
      return false;
    }
    // Servers are recognised by the deployment id: it never changes while the daemon runs.
    if (next['deployment-id'] !== undefined && next['deployment-id'] !== this.deploymentId) {
      this.log.error({ deploymentId: this.deploymentId, configured: next['deployment-id'] }, 'config reload failed: deployment-id cannot change; keeping the running config');
      return false;
    }
    const changes = planReload(this.cfg, next);
    for (const name of this.providers.apply(next.providers)) this.cleanupPass.add(name);
    const closing = changes.targetsToClose.map((name) => this.targets.get(name)).filter((t): t is Target => t !== undefined);
    for (const name of changes.targetsToClose) this.targets.delete(name);
    for (const name of changes.targetsToCreate) this.targets.set(name, this.makeTarget(next.targets.find((t) => t.name === name)!));
    void Promise.allSettled(closing.map((t) => t.close()));
    const ciChanged = changes.ciChanged;
    // A changed `statsd:` gets a new client at once; the old one closes.
    if (statsdChanged(this.cfg, next, this.opts.env ?? process.env)) {
      void this.metrics.replaceStatsd(createStatsd(next, this.opts.env ?? process.env, this.log, () => this.metrics.refresh()));
    }
    this.cfg = next;
    if (ciChanged) {
      await Promise.allSettled([this.events?.close(), this.demandSource?.close()]);
      this.events = this.demandSource = null;
      this.startGearmanAndEvents();
    }
    this.cleanupPass.recoverPending();
    this.builder.request();
    this.log.info({ ciChanged }, 'config reloaded');
    this.requestPlan('reload');
    return true;
  }

  /**
   * Stops launching; lets API calls in flight finish (a created server always gets its row
   * updated); leaves building rows to resume on the next start. Idempotent.
   */
  stop(): Promise<void> {
    if (!this.stopped) this.stopped = this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    const steps: (() => Promise<unknown>)[] = [
      async () => this.events?.close(),
      async () => this.demandSource?.close(),
      async () => this.planner.close(),
      async () => this.targetReconcile.close(),
      async () => this.builder.stop(),
      async () => {
        for (const l of this.launches.values()) l.ctl.abort(new Error('daemon stopping'));
        await Promise.allSettled([...this.launches.values()].map((l) => l.task));
      },
      async () => this.deleter.stop(),
      async () => this.providers.close(),
      async () => Promise.allSettled([...this.targets.values()].map((t) => t.close())),
      async () => this.metrics.close(),
      async () => this.store.close(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        this.log.warn({ err }, 'stop step failed');
      }
    }
    this.log.info('daemon stopped');
  }
}
