// Prometheus metrics, and the statsd sink beside them. One registry per daemon so tests can run
// several in one process. Gauges of the pool (nodes, labels, providers, images) are computed from
// the store when scraped (refresh()), through views.ts, so they match the CLI and the JSON API and
// are current after every transition, whoever made it (daemon, CLI, another daemon).
// Counters and histograms are fed by the components through the methods below, which also
// forward to statsd when it is configured (src/statsd.ts).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { NodeRecord } from './model.js';
import type { Store } from './store/store.js';
import { NODE_STATES } from './model.js';
import { poolSnapshot, type LiveFigures, type PoolSnapshot } from './views.js';

/** What refresh() reads: the daemon. */
export interface MetricsSource {
  readonly store: Store;
  readonly clock: Clock;
  config(): Config;
  poolView(): LiveFigures;
}

/** The statsd side (src/statsd.ts); every method is fire-and-forget. */
export interface StatsdSink {
  gauges(snap: PoolSnapshot): void;
  launch(node: Pick<NodeRecord, 'provider' | 'az' | 'image' | 'target'>, result: string, ms: number): void;
  deleted(node: Pick<NodeRecord, 'provider' | 'image' | 'target'>, ms: number): void;
  task(provider: string, operation: string, ms: number): void;
  imageUpdate(provider: string, image: string, result: string, ms: number): void;
  job(job: string, runtimeMs: number | null): void;
  close(): Promise<void>;
}

/** Seconds buckets for cloud API calls: from a fast GET to a slow create. */
const API_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// Process metrics (CPU, memory, event loop, GC) describe the process, not a daemon: collected
// once per process in their own registry and appended to every scrape.
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  readonly registry = new Registry();
  private source: MetricsSource | null = null;
  /** Set when statsd is configured. */
  statsd: StatsdSink | null = null;

  // --- launches and deletes
  readonly launches = new Counter({
    name: 'nodepool_launch_total',
    help: 'Launch attempts by outcome (ready, or the error code that ended the attempt)',
    labelNames: ['provider', 'label', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly launchFailures = new Counter({
    name: 'nodepool_launch_failures_total',
    help: 'Failed launch attempts by reason (the error code: quota, timeout, target-auth, ...)',
    labelNames: ['provider', 'label', 'reason'] as const,
    registers: [this.registry],
  });
  readonly launchSeconds = new Histogram({
    name: 'nodepool_launch_duration_seconds',
    help: 'Time from the node row to the end of a launch attempt, by result (ready or the error code)',
    labelNames: ['provider', 'label', 'result'] as const,
    buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly deletes = new Counter({
    name: 'nodepool_delete_total',
    help: 'Node deletions by outcome',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly leaks = new Counter({
    name: 'nodepool_leaked_resources_deleted_total',
    help: 'Servers, images and image snapshots (kind server, image, snapshot) with our metadata and no live row, deleted on their second sighting',
    labelNames: ['provider', 'kind'] as const,
    registers: [this.registry],
  });

  // --- cloud APIs
  readonly apiCalls = new Counter({
    name: 'nodepool_cloud_api_calls_total',
    help: 'Cloud API calls by operation and outcome (ok or error code)',
    labelNames: ['provider', 'op', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly apiSeconds = new Histogram({
    name: 'nodepool_cloud_api_call_duration_seconds',
    help: 'Cloud API call latency by operation and outcome (ok or error code); rate-limit waits excluded',
    labelNames: ['provider', 'op', 'outcome'] as const,
    buckets: API_BUCKETS,
    registers: [this.registry],
  });
  readonly rateLimitWait = new Counter({
    name: 'nodepool_cloud_rate_limit_wait_seconds_total',
    help: "Time API calls spent waiting for the provider's token bucket (rate, rate-burst, Retry-After)",
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly cloudUp = new Gauge({
    name: 'nodepool_cloud_up',
    help: '1 when the provider answered its last reconcile pass, 0 when not',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  // --- the pool, computed from the store when scraped
  readonly nodes = new Gauge({
    name: 'nodepool_nodes',
    help: 'Nodes by provider, label and state',
    labelNames: ['provider', 'label', 'state'] as const,
    registers: [this.registry],
  });
  readonly labelMinReady = new Gauge({ name: 'nodepool_label_min_ready', help: 'min-ready of each label', labelNames: ['label'] as const, registers: [this.registry] });
  readonly labelReady = new Gauge({ name: 'nodepool_label_ready_nodes', help: 'Ready nodes of each label', labelNames: ['label'] as const, registers: [this.registry] });
  readonly labelDemand = new Gauge({
    name: 'nodepool_label_demand',
    help: 'Waiting Gearman builds per label (absent when no Gearman server is configured)',
    labelNames: ['label'] as const,
    registers: [this.registry],
  });
  readonly labelDeficit = new Gauge({
    name: 'nodepool_label_deficit',
    help: 'Nodes the label lacks: max(0, demand + min-ready - ready - building)',
    labelNames: ['label'] as const,
    registers: [this.registry],
  });
  readonly demandUnassigned = new Gauge({
    name: 'nodepool_demand_unassigned',
    help: 'Waiting Gearman builds of jobs that map to no label (no build:JOB:LABEL function names one)',
    registers: [this.registry],
  });
  readonly providerMaxServers = new Gauge({ name: 'nodepool_provider_max_servers', help: 'max-servers of each provider', labelNames: ['provider'] as const, registers: [this.registry] });
  readonly providerServers = new Gauge({
    name: 'nodepool_provider_servers',
    help: 'Servers we hold in the provider (nodes in any state, deleting included)',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly providerCapacity = new Gauge({
    name: 'nodepool_provider_capacity',
    help: 'Instances the planner may still start: min(max-servers, quota) minus servers held',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly providerQuota = new Gauge({
    name: 'nodepool_provider_quota',
    help: "The cloud's quota left for us (resource instances, cores or ram_bytes); absent when unknown or unlimited",
    labelNames: ['provider', 'resource'] as const,
    registers: [this.registry],
  });
  readonly providerLaunching = new Gauge({
    name: 'nodepool_provider_launches_in_flight',
    help: 'Launch tasks holding a launch slot (max-concurrency)',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  // --- images, computed from the store's images table when scraped
  readonly imageAge = new Gauge({
    name: 'nodepool_image_age_seconds',
    help: 'Age of the current (newest ready) image per provider and image',
    labelNames: ['provider', 'image'] as const,
    registers: [this.registry],
  });
  readonly imageLastBuildOk = new Gauge({
    name: 'nodepool_image_last_build_success',
    help: '1 when the last finished bake of the image succeeded, 0 when it failed',
    labelNames: ['provider', 'image'] as const,
    registers: [this.registry],
  });
  readonly imageLastBuildTime = new Gauge({
    name: 'nodepool_image_last_build_timestamp_seconds',
    help: 'When the last bake of the image finished (Unix time)',
    labelNames: ['provider', 'image'] as const,
    registers: [this.registry],
  });
  readonly imageBuilds = new Counter({
    name: 'nodepool_image_builds_total',
    help: 'Image bakes by result (ready or failed)',
    labelNames: ['provider', 'image', 'result'] as const,
    registers: [this.registry],
  });

  // --- masters: build events, Gearman, targets
  readonly events = new Counter({
    name: 'nodepool_build_events_total',
    help: 'ZeroMQ build events by topic and outcome (ok, held, ignored, unknown-node, unknown-topic, in-state-*)',
    labelNames: ['topic', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly eventFrames = new Counter({
    name: 'nodepool_build_event_frames_received_total',
    help: 'ZeroMQ build event frames received, good or bad',
    registers: [this.registry],
  });
  readonly eventFramesBad = new Counter({
    name: 'nodepool_build_event_frames_bad_total',
    help: 'ZeroMQ build event frames ignored, by reason (garbage, unknown-topic, not-json, missing-field)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly eventHandlerErrors = new Counter({
    name: 'nodepool_build_event_handler_errors_total',
    help: 'Good build event frames whose handling failed',
    registers: [this.registry],
  });
  readonly eventReconnects = new Counter({
    name: 'nodepool_build_event_reconnects_total',
    help: 'ZeroMQ publisher reconnects after a disconnect (its frames meanwhile are lost), by publisher URL as configured',
    labelNames: ['publisher'] as const,
    registers: [this.registry],
  });
  readonly gearmanUp = new Gauge({
    name: 'nodepool_gearman_server_up',
    help: '1 when the gearman server answered its last status poll, 0 when not',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });
  readonly gearmanPolls = new Counter({
    name: 'nodepool_gearman_polls_total',
    help: 'Gearman status polls by server and outcome (ok or error)',
    labelNames: ['server', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly registrations = new Counter({
    name: 'nodepool_target_registrations_total',
    help: 'Node registrations with a target (Jenkins, Gearman node_assign) by outcome (ok or error code), retries included',
    labelNames: ['target', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly targetRepairs = new Counter({
    name: 'nodepool_target_repairs_total',
    help: 'Nodes repaired by the reconcile pass after a lost build event, by target and action (in-use, used, delete)',
    labelNames: ['target', 'action'] as const,
    registers: [this.registry],
  });
  readonly jobs = new Counter({
    name: 'nodepool_job_builds_total',
    help: 'Builds that finished on our nodes, by job',
    labelNames: ['job'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'nodepool_errors_total',
    help: 'Errors by component and reason code',
    labelNames: ['component', 'reason'] as const,
    registers: [this.registry],
  });

  /** The daemon: refresh() reads the pool from it. */
  bind(source: MetricsSource): void {
    this.source = source;
  }

  private now(): number {
    return this.source?.clock.now() ?? Date.now();
  }

  /**
   * Reads the store once and sets every pool gauge from that one snapshot (returned, so statsd
   * and the status page can use the same numbers). Null when not bound to a daemon.
   */
  async refresh(): Promise<PoolSnapshot | null> {
    const src = this.source;
    if (!src) return null;
    const [nodes, images] = await Promise.all([src.store.listNodes(), src.store.listImages()]);
    const snap = poolSnapshot(src.config(), nodes, images, src.poolView(), src.clock.now());
    this.apply(snap);
    return snap;
  }

  private apply(snap: PoolSnapshot): void {
    for (const g of [this.nodes, this.labelMinReady, this.labelReady, this.labelDemand, this.labelDeficit, this.providerMaxServers, this.providerServers, this.providerCapacity, this.providerQuota, this.providerLaunching, this.imageAge, this.imageLastBuildOk, this.imageLastBuildTime]) g.reset();
    for (const n of snap.nodes) this.nodes.set({ provider: n.provider, label: n.label, state: n.state }, n.count);
    // Every configured label and provider gets its zeros: an alert on "below min-ready" needs the series.
    for (const l of snap.labels) {
      for (const state of NODE_STATES) if (!snap.nodes.some((n) => n.label === l.name && n.state === state)) for (const p of l.providers) this.nodes.set({ provider: p, label: l.name, state }, 0);
      this.labelMinReady.set({ label: l.name }, l.minReady);
      this.labelReady.set({ label: l.name }, l.ready);
      this.labelDeficit.set({ label: l.name }, l.deficit);
      if (l.demand !== null) this.labelDemand.set({ label: l.name }, l.demand);
    }
    for (const p of snap.providers) {
      const provider = p.name;
      this.providerMaxServers.set({ provider }, p.maxServers);
      this.providerServers.set({ provider }, p.held);
      this.providerCapacity.set({ provider }, p.capacity);
      if (p.quota?.instances != null) this.providerQuota.set({ provider, resource: 'instances' }, p.quota.instances);
      if (p.quota?.cores != null) this.providerQuota.set({ provider, resource: 'cores' }, p.quota.cores);
      if (p.quota?.ramMb != null) this.providerQuota.set({ provider, resource: 'ram_bytes' }, p.quota.ramMb * 1024 * 1024);
      if (p.launching !== null) this.providerLaunching.set({ provider }, p.launching);
    }
    for (const i of snap.images) {
      const key = { provider: i.provider, image: i.image };
      if (i.current) this.imageAge.set(key, i.current.ageSeconds);
      if (i.lastBuild) {
        this.imageLastBuildOk.set(key, i.lastBuild.result === 'ready' ? 1 : 0);
        this.imageLastBuildTime.set(key, i.lastBuild.time / 1000);
      }
    }
  }

  /** The /metrics text: the pool gauges refreshed from the store, then this daemon's and the process's metrics. */
  async scrape(): Promise<string> {
    await this.refresh();
    return `${await this.registry.metrics()}\n${await processMetrics().metrics()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric family name /metrics can show (the monitoring examples' test checks against it). */
  familyNames(): string[] {
    return [...this.registry.getMetricsAsArray(), ...processMetrics().getMetricsAsArray()].map((m) => m.name);
  }

  /** A launch attempt ended: `result` is "ready" or the error code (statsd: `error.CODE`). */
  launchEnded(node: Pick<NodeRecord, 'provider' | 'label' | 'az' | 'image' | 'target' | 'created'> & { id?: number }, result: string): void {
    const seconds = Math.max(0, (this.now() - node.created) / 1000);
    this.launches.inc({ provider: node.provider, label: node.label, outcome: result });
    if (result !== 'ready') this.launchFailures.inc({ provider: node.provider, label: node.label, reason: result });
    this.launchSeconds.observe({ provider: node.provider, label: node.label, result }, seconds);
    const statsd = this.statsd;
    if (!statsd) return;
    const send = (az: string | null) => statsd.launch({ ...node, az }, result === 'ready' ? 'ready' : `error.${result}`, seconds * 1000);
    // The launcher's record predates the attempt; the zone the server got is on the row (statsd's AZ key).
    if (node.az || node.id === undefined || !this.source) return send(node.az);
    this.source.store.getNode(node.id).then(
      (row) => send(row?.az ?? null),
      () => send(null),
    );
  }

  /** A delete ended: outcome "ok" (the node is gone) or the error code of a try that will be retried. */
  deleteEnded(node: Pick<NodeRecord, 'provider' | 'image' | 'target' | 'stateTime'>, outcome: string): void {
    this.deletes.inc({ provider: node.provider, outcome });
    if (outcome === 'ok') this.statsd?.deleted(node, Math.max(0, this.now() - node.stateTime));
  }

  /** One cloud API call (providers/managed-provider.ts onApiCall). */
  apiCall(provider: string, op: string, outcome: string, ms: number): void {
    this.apiCalls.inc({ provider, op, outcome });
    this.apiSeconds.observe({ provider, op, outcome }, ms / 1000);
    this.statsd?.task(provider, op, ms);
  }

  /** Time one call waited for a token of the provider's bucket. */
  rateLimited(provider: string, ms: number): void {
    if (ms > 0) this.rateLimitWait.inc({ provider }, ms / 1000);
  }

  /** One register call to a target: "ok" or the error code. */
  registration(target: string, outcome: string): void {
    this.registrations.inc({ target, outcome });
  }

  /** One status poll of a gearman server. */
  gearmanPolled(server: string, up: boolean): void {
    this.gearmanUp.set({ server }, up ? 1 : 0);
    this.gearmanPolls.inc({ server, outcome: up ? 'ok' : 'error' });
  }

  /** A bake ended: result "ready" or "failed". */
  imageBuilt(provider: string, image: string, result: 'ready' | 'failed', ms: number): void {
    this.imageBuilds.inc({ provider, image, result });
    this.statsd?.imageUpdate(provider, image, result, ms);
  }

  /** A build finished on one of our nodes (onFinalized); runtime from its onStarted, if seen. */
  jobFinished(job: string, runtimeMs: number | null): void {
    this.jobs.inc({ job });
    this.statsd?.job(job, runtimeMs);
  }

  /**
   * A reload changed `statsd:`: every stat from now on goes to `next` (null: off), and the old
   * client closes (it sends each stat at once: nothing is left to flush). After close(), `next`
   * is closed at once.
   */
  async replaceStatsd(next: StatsdSink | null): Promise<void> {
    const old = this.statsd;
    if (this.closed) {
      await next?.close();
      return;
    }
    this.statsd = next;
    await old?.close();
  }

  private closed = false;

  /** Stops statsd; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.statsd;
    this.statsd = null;
    await s?.close();
  }
}
