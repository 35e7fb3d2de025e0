// statsd, with Nodepool 0.x's key names where the concept is the same, so its dashboards keep
// working: gauges of nodes by state (overall, per target, label and provider) and max-servers,
// sent every `interval` from the same snapshot /metrics shows; launch and delete timers with
// counters; one timer per cloud API call; image updates; job runtimes and build counts.
import { StatsD } from 'hot-shots';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { StatsdSink } from './metrics.js';
import { NODE_STATES, type NodeRecord } from './model.js';
import type { PoolSnapshot, StateCounts } from './views.js';

export interface StatsdSettings {
  host: string;
  port: number;
  /** Put before every key ("ci" -> "ci.nodepool.nodes.ready"); empty for none. */
  prefix: string;
  intervalMs: number;
}

const DEFAULT_INTERVAL_MS = 10_000;

/**
 * The config's `statsd` key, else (as 0.x) STATSD_HOST with STATSD_PORT (default 8125) and
 * STATSD_PREFIX from the environment; null when neither is set.
 */
export function statsdSettings(cfg: Config, env: Record<string, string | undefined>): StatsdSettings | null {
  if (cfg.statsd) return { host: cfg.statsd.host, port: cfg.statsd.port, prefix: cfg.statsd.prefix ?? '', intervalMs: cfg.statsd.interval };
  const host = env.STATSD_HOST;
  if (!host) return null;
  const port = Number(env.STATSD_PORT ?? 8125);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`STATSD_PORT: expected a port number from 1 to 65535, got ${JSON.stringify(env.STATSD_PORT)}`);
  return { host, port, prefix: env.STATSD_PREFIX ?? '', intervalMs: DEFAULT_INTERVAL_MS };
}

/** One key component: a name with a dot (or a statsd separator) would split or break the key. */
export function keyPart(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

export interface StatsdReporterOptions extends StatsdSettings {
  log: Logger;
  /** The pool snapshot the gauges are sent from (Metrics.refresh). */
  snapshot: () => Promise<PoolSnapshot | null>;
}

export class StatsdReporter implements StatsdSink {
  private readonly client: StatsD;
  private readonly timer: NodeJS.Timeout;
  private closing: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: StatsdReporterOptions) {
    this.log = opts.log.child({ component: 'statsd' });
    const prefix = opts.prefix ? (opts.prefix.endsWith('.') ? opts.prefix : `${opts.prefix}.`) : '';
    this.client = new StatsD({
      host: opts.host,
      port: opts.port,
      prefix,
      // One datagram per stat, sent at once: nothing to flush on close, nothing stale.
      maxBufferSize: 0,
      errorHandler: (err) => this.log.debug({ err }, 'statsd send failed'),
    });
    // The daemon's own timers keep the process alive; this one must not.
    this.timer = setInterval(() => void this.sendGauges(), opts.intervalMs).unref();
    this.log.info({ host: opts.host, port: opts.port, prefix }, 'sending statsd');
  }

  /** Reads a snapshot and sends every gauge from it; the timer calls it, tests may too. */
  async sendGauges(): Promise<PoolSnapshot | null> {
    try {
      const snap = await this.opts.snapshot();
      if (snap && !this.closing) this.gauges(snap);
      return snap;
    } catch (err) {
      this.log.warn({ err }, 'statsd gauges: reading the pool failed');
      return null;
    }
  }

  gauges(snap: PoolSnapshot): void {
    const g = (key: string, value: number) => this.client.gauge(key, value);
    const states = (base: string, counts: StateCounts) => {
      for (const s of NODE_STATES) g(`${base}.${keyPart(s)}`, counts[s]);
    };
    const total = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as StateCounts;
    for (const n of snap.nodes) total[n.state] += n.count;
    states('nodepool.nodes', total);
    for (const [target, counts] of Object.entries(snap.targets)) states(`nodepool.target.${keyPart(target)}.nodes`, counts);
    for (const l of snap.labels) {
      states(`nodepool.label.${keyPart(l.name)}.nodes`, { building: l.building, ready: l.ready, 'in-use': l.inUse, used: l.used, hold: l.hold, deleting: l.deleting });
    }
    for (const p of snap.providers) {
      states(`nodepool.provider.${keyPart(p.name)}.nodes`, p.nodes);
      g(`nodepool.provider.${keyPart(p.name)}.max_servers`, p.maxServers);
    }
  }

  /** `result` is "ready" or "error.CODE", as 0.x sent it. */
  launch(node: Pick<NodeRecord, 'provider' | 'az' | 'image' | 'target'>, result: string, ms: number): void {
    const r = result.split('.').map(keyPart).join('.');
    const p = keyPart(node.provider);
    const keys = [`nodepool.launch.${r}`, `nodepool.launch.provider.${p}.${r}`, `nodepool.launch.image.${keyPart(node.image)}.${r}`];
    if (node.az) keys.push(`nodepool.launch.provider.${p}.${keyPart(node.az)}.${r}`);
    if (node.target) keys.push(`nodepool.launch.target.${keyPart(node.target)}.${r}`);
    for (const key of keys) {
      this.client.timing(key, Math.round(ms));
      this.client.increment(key);
    }
  }

  deleted(node: Pick<NodeRecord, 'provider' | 'image' | 'target'>, ms: number): void {
    const key = `nodepool.delete.${keyPart(node.image)}.${keyPart(node.provider)}.${keyPart(node.target || 'none')}`;
    this.client.timing(key, Math.round(ms));
    this.client.increment(key);
  }

  task(provider: string, operation: string, ms: number): void {
    const key = `nodepool.task.${keyPart(provider)}.${keyPart(operation)}`;
    this.client.timing(key, Math.round(ms));
    this.client.increment(key);
  }

  imageUpdate(provider: string, image: string, result: string, ms: number): void {
    const key = `nodepool.image_update.${keyPart(image)}.${keyPart(provider)}`;
    this.client.timing(key, Math.round(ms));
    this.client.increment(`${key}.${keyPart(result)}`);
  }

  job(job: string, runtimeMs: number | null): void {
    const key = `nodepool.job.${keyPart(job)}`;
    if (runtimeMs !== null) this.client.timing(`${key}.runtime`, Math.round(runtimeMs));
    this.client.increment(`${key}.builds`);
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      clearInterval(this.timer);
      this.client.close((err) => {
        if (err) this.log.debug({ err }, 'statsd close failed');
        resolve();
      });
    });
    return this.closing;
  }
}

/**
 * Whether a reload from `prev` to `next` changes where or how statsd is sent (host, port, prefix,
 * interval; the environment is the daemon's own and does not change). An environment that cannot
 * be read is no change: it was read the same way at start.
 */
export function statsdChanged(prev: Config, next: Config, env: Record<string, string | undefined>): boolean {
  try {
    return JSON.stringify(statsdSettings(prev, env)) !== JSON.stringify(statsdSettings(next, env));
  } catch {
    return false;
  }
}

/** A reporter when statsd is configured (config or environment), else null. */
export function createStatsd(cfg: Config, env: Record<string, string | undefined>, log: Logger, snapshot: () => Promise<PoolSnapshot | null>): StatsdReporter | null {
  const settings = statsdSettings(cfg, env);
  return settings ? new StatsdReporter({ ...settings, log, snapshot }) : null;
}
